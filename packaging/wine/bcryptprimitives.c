/* Test-only stand-in (packaging/wine/demo.sh) for Windows 10's bcryptprimitives.dll, which Wine 8
   lacks: Rust's std (1.78+) imports ProcessPrng from it. Forwards to
   RtlGenRandom (advapi32!SystemFunction036), which Wine has. */
#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk)) return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
