//! The lab's four programs, as the completed C versions behave.
//!
//! Output lines are the lab's, character for character (`%2s` ids, `%4d` ports, French
//! wording), with the evident typos of the lab's fragments read as their intent: the TCP
//! server's reply is `#%2s=%03d#` and the UDP client's send line ends with a newline.
//! Messages carry their terminating NUL, replies are counted per server across clients,
//! the server sleeps after each reply, and the TCP server is iterative.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio_util::sync::CancellationToken;

use super::pace::Pace;
use super::{Sink, cstr};
use crate::scenario::Protocol;
use crate::transcript::{EventKind, Outcome, Stream};

/// The lab's buffers are `char buf[1<<8]`.
const BUFFER: usize = 256;

/// One of the lab's programs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefProgram {
    UdpServer,
    UdpClient,
    TcpServer,
    TcpClient,
}

impl RefProgram {
    /// The program for a protocol and side.
    pub fn for_role(protocol: Protocol, server: bool) -> Self {
        match (protocol, server) {
            (Protocol::Udp, true) => Self::UdpServer,
            (Protocol::Udp, false) => Self::UdpClient,
            (Protocol::Tcp, true) => Self::TcpServer,
            (Protocol::Tcp, false) => Self::TcpClient,
        }
    }

    /// The lab's file name, used as `argv[0]` in error lines.
    pub fn lab_name(self) -> &'static str {
        match self {
            Self::UdpServer => "serveuru",
            Self::UdpClient => "clientu",
            Self::TcpServer => "serveur",
            Self::TcpClient => "clientt",
        }
    }
}

/// Everything a reference program needs besides its sockets.
#[derive(Clone, Debug)]
pub struct RefParams {
    pub id: String,
    pub host: String,
    pub port: u16,
    pub exchanges: u32,
    pub reply_delay: Duration,
    pub close_delay: Duration,
    pub pause: Duration,
}

/// Runs a reference program until it ends, or, for servers, until `stop` is cancelled
/// while it waits for a client.
pub(crate) async fn run(
    program: RefProgram,
    params: RefParams,
    pace: Pace,
    sink: Arc<dyn Sink>,
    stop: CancellationToken,
) -> Outcome {
    let io = Io {
        sink,
        pace,
        program,
    };
    let result = match program {
        RefProgram::UdpServer => udp_server(&io, &params, &stop).await,
        RefProgram::UdpClient => udp_client(&io, &params).await,
        RefProgram::TcpServer => tcp_server(&io, &params, &stop).await,
        RefProgram::TcpClient => tcp_client(&io, &params).await,
    };
    match result {
        Ok(outcome) => outcome,
        Err(Fatal(line)) => {
            io.line(Stream::Stderr, line);
            Outcome::Exited { code: 1 }
        }
    }
}

/// Runs a reference program on the host, printing its lines as the C program would:
/// `labrun ref tcp-server A 4000`.
pub fn run_standalone(program: RefProgram, params: RefParams) -> i32 {
    struct Print;
    impl Sink for Print {
        fn emit(&self, event: EventKind) {
            use std::io::Write;
            if let EventKind::Line { stream, text } = event {
                // A closed stdout (`| head`) is no reason to stop serving.
                let _ = match stream {
                    Stream::Stdout => writeln!(io::stdout().lock(), "{text}"),
                    Stream::Stderr => writeln!(io::stderr().lock(), "{text}"),
                };
            }
        }
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("labrun: cannot start the async runtime: {error}");
            return 3;
        }
    };
    let outcome = runtime.block_on(async {
        let stop = CancellationToken::new();
        tokio::select! {
            outcome = run(program, params, Pace::Real { scale: 1.0 }, Arc::new(Print), stop.clone()) => outcome,
            _ = tokio::signal::ctrl_c() => Outcome::Stopped,
        }
    });
    match outcome {
        Outcome::Exited { code } => code,
        _ => 0,
    }
}

/// A line for stderr, then exit status 1: how the C programs give up.
struct Fatal(String);

struct Io {
    sink: Arc<dyn Sink>,
    pace: Pace,
    program: RefProgram,
}

impl Io {
    fn line(&self, stream: Stream, text: String) {
        self.sink.emit(EventKind::Line { stream, text });
    }

    fn out(&self, text: String) {
        self.line(Stream::Stdout, text);
    }

    fn fatal(&self, what: &str, error: &io::Error) -> Fatal {
        Fatal(format!(
            "{}: {what} {}",
            self.program.lab_name(),
            strerror(error)
        ))
    }

    async fn sleep(&self, declared: Duration) {
        if declared.is_zero() {
            return;
        }
        self.sink.emit(EventKind::Slept { declared });
        self.pace.sleep(declared).await;
        self.sink.emit(EventKind::Woke);
    }

    fn sent(&self, protocol: Protocol, peer: SocketAddr, payload: &[u8]) {
        self.sink.emit(EventKind::Sent {
            protocol,
            peer,
            payload: payload.to_vec(),
        });
    }

    fn received(&self, protocol: Protocol, peer: SocketAddr, payload: &[u8]) {
        self.sink.emit(EventKind::Received {
            protocol,
            peer,
            payload: payload.to_vec(),
        });
    }

    fn ready(&self, protocol: Protocol, local: SocketAddr, peer: Option<SocketAddr>) {
        self.sink.emit(EventKind::Ready {
            protocol,
            local,
            peer,
        });
    }
}

async fn udp_server(io: &Io, p: &RefParams, stop: &CancellationToken) -> Result<Outcome, Fatal> {
    let any = SocketAddr::from((Ipv4Addr::UNSPECIFIED, p.port));
    let socket = UdpSocket::bind(any)
        .await
        .map_err(|e| io.fatal("bind", &e))?;
    io.ready(Protocol::Udp, socket.local_addr().unwrap_or(any), None);
    let mut replies = 0u32;
    let mut buf = [0u8; BUFFER];
    loop {
        let received = tokio::select! {
            biased;
            () = stop.cancelled() => return Ok(Outcome::Stopped),
            r = socket.recv_from(&mut buf) => r,
        };
        let (len, peer) = match received {
            Ok((0, peer)) => {
                io.received(Protocol::Udp, peer, &[]);
                io.out("serveuru: recvfrom=0: Success".into());
                continue;
            }
            Ok(got) => got,
            Err(e) => {
                io.out(format!("serveuru: recvfrom=-1: {}", strerror(&e)));
                continue;
            }
        };
        let payload = &buf[..len];
        io.received(Protocol::Udp, peer, payload);
        io.out(format!(
            "serveur {} a reçu le message {} de {}:{}",
            p.id,
            cstr::text(payload),
            peer.ip(),
            peer.port()
        ));
        let reply = cstr::with_nul(&format!("serveur#{:>2} reponse{replies:03}#", p.id));
        replies += 1;
        io.sent(Protocol::Udp, peer, &reply);
        if let Err(e) = socket.send_to(&reply, peer).await {
            io.out(format!("serveuru: sendto=-1: {}", strerror(&e)));
            continue;
        }
        io.sleep(p.reply_delay).await;
    }
}

async fn udp_client(io: &Io, p: &RefParams) -> Result<Outcome, Fatal> {
    let server = resolve(io, &p.host, p.port)?;
    // An unbound socket: `getsockname` shows (0.0.0.0, 0) until the first `sendto` binds it.
    let socket =
        Socket::new(Domain::IPV4, Type::DGRAM, None).map_err(|e| io.fatal("socket", &e))?;
    socket
        .set_nonblocking(true)
        .map_err(|e| io.fatal("socket", &e))?;
    let socket = UdpSocket::from_std(socket.into()).map_err(|e| io.fatal("socket", &e))?;
    let mut me = local_v4(socket.local_addr());
    let mut buf = [0u8; BUFFER];
    for question in 0..p.exchanges {
        let message = format!("#{:>2}={question:03}", p.id);
        io.out(format!(
            "client {:>2}: ({},{:>4}) envoie a ({},{:>4}): {message}",
            p.id,
            me.ip(),
            me.port(),
            server.ip(),
            server.port()
        ));
        let payload = cstr::with_nul(&message);
        io.sent(Protocol::Udp, server, &payload);
        if let Err(e) = socket.send_to(&payload, server).await {
            io.out(format!(
                "clientu: erreur dans sendto (num=-1, mess={})",
                strerror(&e)
            ));
            continue;
        }
        let was_bound = me.port() != 0;
        me = local_v4(socket.local_addr());
        if !was_bound {
            io.ready(Protocol::Udp, SocketAddr::V4(me), Some(server));
        }
        let (len, from) = match socket.recv_from(&mut buf).await {
            Ok(got) => got,
            Err(e) => {
                io.out(format!(
                    "clientu: erreur dans recvfrom (num=-1, mess={})",
                    strerror(&e)
                ));
                continue;
            }
        };
        io.received(Protocol::Udp, from, &buf[..len]);
        io.out(format!(
            "client {:>2}: ({},{:>4}) recoit de ({},{:>4}) : {}",
            p.id,
            me.ip(),
            me.port(),
            from.ip(),
            from.port(),
            cstr::text(&buf[..len])
        ));
        if question + 1 < p.exchanges {
            io.sleep(p.pause).await;
        }
    }
    Ok(Outcome::Exited { code: 0 })
}

async fn tcp_server(io: &Io, p: &RefParams, stop: &CancellationToken) -> Result<Outcome, Fatal> {
    let any = SocketAddr::from((Ipv4Addr::UNSPECIFIED, p.port));
    let socket =
        Socket::new(Domain::IPV4, Type::STREAM, None).map_err(|e| io.fatal("socket", &e))?;
    // Like most completed versions of the lab: restart at once after a run.
    socket
        .set_reuse_address(true)
        .map_err(|e| io.fatal("socket", &e))?;
    socket.bind(&any.into()).map_err(|e| io.fatal("bind", &e))?;
    socket.listen(5).map_err(|e| io.fatal("listen", &e))?;
    socket
        .set_nonblocking(true)
        .map_err(|e| io.fatal("listen", &e))?;
    let listener = TcpListener::from_std(socket.into()).map_err(|e| io.fatal("listen", &e))?;
    io.ready(Protocol::Tcp, listener.local_addr().unwrap_or(any), None);
    let mut replies = 0u32;
    loop {
        let accepted = tokio::select! {
            biased;
            () = stop.cancelled() => return Ok(Outcome::Stopped),
            a = listener.accept() => a,
        };
        let (mut stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                io.out(format!("serveur: accept=-1: {}", strerror(&e)));
                continue;
            }
        };
        let mut buf = [0u8; BUFFER];
        for _ in 0..p.exchanges {
            let len = match stream.read(&mut buf).await {
                Ok(0) => {
                    io.out("serveur: read=0: Success".into());
                    break;
                }
                Ok(len) => len,
                Err(e) => {
                    io.out(format!("serveur: read=-1: {}", strerror(&e)));
                    break;
                }
            };
            let payload = &buf[..len];
            io.received(Protocol::Tcp, peer, payload);
            io.out(format!(
                "serveur {} reçu de ({},{:>4}) : {}",
                p.id,
                peer.ip(),
                peer.port(),
                cstr::text(payload)
            ));
            let reply = cstr::with_nul(&format!("#{:>2}={replies:03}#", p.id));
            replies += 1;
            io.sent(Protocol::Tcp, peer, &reply);
            if let Err(e) = stream.write_all(&reply).await {
                io.out(format!("serveur: write=-1: {}", strerror(&e)));
                break;
            }
            io.sleep(p.reply_delay).await;
        }
        io.sleep(p.close_delay).await;
        drop(stream);
    }
}

async fn tcp_client(io: &Io, p: &RefParams) -> Result<Outcome, Fatal> {
    let server = resolve(io, &p.host, p.port)?;
    let mut stream = TcpStream::connect(server)
        .await
        .map_err(|e| io.fatal("connect", &e))?;
    let me = local_v4(stream.local_addr());
    io.ready(Protocol::Tcp, SocketAddr::V4(me), Some(server));
    let mut buf = [0u8; BUFFER];
    for question in 0..p.exchanges {
        let message = format!("#{:>2}={question:03}", p.id);
        io.out(format!(
            "client {:>2}: ({},{:>4}) envoie a  ({},{:>4}) : {message}",
            p.id,
            me.ip(),
            me.port(),
            server.ip(),
            server.port()
        ));
        let payload = cstr::with_nul(&message);
        io.sent(Protocol::Tcp, server, &payload);
        if let Err(e) = stream.write_all(&payload).await {
            io.out(format!(
                "clientt: erreur dans write (num=-1, mess={})",
                strerror(&e)
            ));
            continue;
        }
        let len = match stream.read(&mut buf).await {
            Ok(0) => {
                io.out("clientt: erreur dans read (num=0, mess=Success)".into());
                continue;
            }
            Ok(len) => len,
            Err(e) => {
                io.out(format!(
                    "clientt: erreur dans read (num=-1, mess={})",
                    strerror(&e)
                ));
                continue;
            }
        };
        io.received(Protocol::Tcp, server, &buf[..len]);
        io.out(format!(
            "client {:>2}: ({},{:>4}) recoit de ({},{:>4}) : {}",
            p.id,
            me.ip(),
            me.port(),
            server.ip(),
            server.port(),
            cstr::text(&buf[..len])
        ));
        if question + 1 < p.exchanges {
            io.sleep(p.pause).await;
        }
    }
    drop(stream);
    Ok(Outcome::Exited { code: 0 })
}

/// The first IPv4 address of `host`, through the system's resolver like `gethostbyname`.
fn resolve(io: &Io, host: &str, port: u16) -> Result<SocketAddr, Fatal> {
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Ok(SocketAddr::from((ip, port)));
    }
    let unknown = || Fatal(format!("{}: unknown host {host}", io.program.lab_name()));
    let addrs = (host, port).to_socket_addrs().map_err(|_| unknown())?;
    addrs
        .into_iter()
        .find(SocketAddr::is_ipv4)
        .ok_or_else(unknown)
}

fn local_v4(addr: io::Result<SocketAddr>) -> SocketAddrV4 {
    match addr {
        Ok(SocketAddr::V4(v4)) => v4,
        _ => SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0),
    }
}

/// The C library's wording of an error, as `strerror(errno)` prints it.
fn strerror(error: &io::Error) -> String {
    match error.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_string(),
        None => error.to_string(),
    }
}
