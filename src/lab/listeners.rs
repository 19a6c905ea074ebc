//! The lab's sockets on 127.0.0.1: real listeners that accept, refuse, or
//! leave SYNs unanswered, and UDP ports that are open or closed.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpStream as StdTcpStream};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;

const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// Accepts every connection and closes it.
pub async fn open_tcp() -> io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind((LOOPBACK, 0)).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            drop(stream);
        }
    });
    Ok((addr, task))
}

/// A listener whose accept queue is full, so the kernel drops new SYNs:
/// a real timeout on loopback, the way an NSG drop looks from outside.
pub struct FilteredPort {
    /// Where it listens.
    pub addr: SocketAddr,
    _listener: Socket,
    _filler: StdTcpStream,
}

impl FilteredPort {
    /// Listens with backlog 0 and fills the queue with one connection
    /// that is never accepted.
    pub fn bind() -> io::Result<FilteredPort> {
        FilteredPort::bind_on(SocketAddr::from((LOOPBACK, 0)))
    }

    /// The same on a chosen address.
    pub fn bind_on(addr: SocketAddr) -> io::Result<FilteredPort> {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
        socket.bind(&SockAddr::from(addr))?;
        socket.listen(0)?;
        let addr = socket.local_addr()?.as_socket().ok_or_else(|| io::Error::other("no local address"))?;
        let filler = StdTcpStream::connect_timeout(&addr, std::time::Duration::from_secs(1))?;
        Ok(FilteredPort { addr, _listener: socket, _filler: filler })
    }
}

/// A TCP port that is bound but not listening: connections get a reset,
/// and holding the bind keeps anyone else from taking the port.
pub struct RefusedPort {
    /// The refused address.
    pub addr: SocketAddr,
    _socket: Socket,
}

impl RefusedPort {
    /// Binds without listening.
    pub fn bind() -> io::Result<RefusedPort> {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
        socket.bind(&SockAddr::from(SocketAddr::from((LOOPBACK, 0))))?;
        let addr = socket.local_addr()?.as_socket().ok_or_else(|| io::Error::other("no local address"))?;
        Ok(RefusedPort { addr, _socket: socket })
    }
}

/// Reads datagrams and never answers, like a service that ignores junk.
pub async fn open_udp() -> io::Result<(SocketAddr, JoinHandle<()>)> {
    let socket = UdpSocket::bind((LOOPBACK, 0)).await?;
    let addr = socket.local_addr()?;
    let task = tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        while socket.recv_from(&mut buf).await.is_ok() {}
    });
    Ok((addr, task))
}

/// A UDP port nobody holds: the kernel answers ICMP port unreachable.
/// (Found by binding and releasing; on loopback nobody races us for it in practice.)
pub fn closed_udp() -> io::Result<SocketAddr> {
    let socket = std::net::UdpSocket::bind((LOOPBACK, 0))?;
    socket.local_addr()
}

/// A DNS server that reads queries over UDP and never answers; TCP on the
/// same port has a full queue, so a TCP retry times out too instead of
/// being refused.
pub async fn silent_dns() -> io::Result<(SocketAddr, JoinHandle<()>, FilteredPort)> {
    // The same TCP port may be in use; try a few UDP ports.
    let mut last = io::Error::other("no port tried");
    for _ in 0..32 {
        let (addr, task) = open_udp().await?;
        match FilteredPort::bind_on(addr) {
            Ok(tcp) => return Ok((addr, task, tcp)),
            Err(e) => {
                task.abort();
                last = e;
            }
        }
    }
    Err(last)
}
