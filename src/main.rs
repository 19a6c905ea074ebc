//! The `amlnet` binary: everything lives in the library.

fn main() -> std::process::ExitCode {
    amlnet::cli::main()
}
