//! The lab's four programs, as the completed C versions behave.
//!
//! Output lines are the lab's, character for character (`%2s` ids, `%4d` ports, French
//! wording), with the evident typos of the lab's fragments read as their intent: the TCP
//! server's reply is `#%2s=%03d#` and the UDP client's send line ends with a newline.
//! Messages carry their terminating NUL, replies are counted per server across clients,
//! the server sleeps after each reply, and the servers are iterative, as the lab's are.
//!
//! A scenario may ask for a server that serves each client in its own task instead
//! ([`Concurrency::PerClient`]), as a server that forks per client would: it is how
//! labrun plays a thousand clients at once. Each such task reports its events in a lane of
//! its own (see [`Sink::emit_in`]), so that scenario time follows each client's
//! exchanges rather than all of them in a row.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use socket2::{Domain, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::Sink;
use super::pace::Pace;
use crate::record::{EventKind, Outcome, Protocol, Stream, cstr};
use crate::scenario::Concurrency;

/// The lab's buffers are `char buf[1<<8]`.
const BUFFER: usize = 256;
/// The lab's `listen(sock, 5)`.
const LAB_BACKLOG: i32 = 5;
/// How long the TCP server waits before it tries `accept` again after it failed.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);
/// A per-client TCP server's backlog: room for thousands of clients connecting at once
/// (the kernel caps it at `net.core.somaxconn`, 4096 by default).
const MANY_BACKLOG: i32 = 4096;
/// A per-client UDP server's receive buffer: room for the first question of thousands of
/// clients asking at once (a small datagram takes about 1 KiB of buffer; the kernel's
/// default of 208 KiB would drop all but a few hundred, and a lab client never sends again).
const MANY_RECEIVE_BUFFER: usize = 4 << 20;

/// One of the lab's programs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RefProgram {
    UdpServer,
    UdpClient,
    TcpServer,
    TcpClient,
}

impl RefProgram {
    /// The program for a protocol and side.
    pub(crate) fn for_role(protocol: Protocol, server: bool) -> Self {
        match (protocol, server) {
            (Protocol::Udp, true) => Self::UdpServer,
            (Protocol::Udp, false) => Self::UdpClient,
            (Protocol::Tcp, true) => Self::TcpServer,
            (Protocol::Tcp, false) => Self::TcpClient,
        }
    }

    /// The lab's file name, used as `argv[0]` in error lines.
    pub(crate) fn lab_name(self) -> &'static str {
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
pub(crate) struct RefParams {
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
    concurrency: Concurrency,
    pace: Pace,
    sink: Arc<dyn Sink>,
    stop: CancellationToken,
) -> Outcome {
    let io = Io {
        sink,
        pace,
        program,
        lane: 0,
    };
    let result = match program {
        RefProgram::UdpServer => udp_server(&io, &params, concurrency, &stop).await,
        RefProgram::UdpClient => udp_client(&io, &params).await,
        RefProgram::TcpServer => tcp_server(&io, &params, concurrency, &stop).await,
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
/// `labrun ref tcp-server A 4000`. Returns the exit status the C program would have; an
/// error when the async runtime cannot start.
pub(crate) fn run_standalone(program: RefProgram, params: RefParams) -> io::Result<i32> {
    struct Print;
    impl Sink for Print {
        fn emit_in(&self, _lane: u32, event: EventKind) {
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
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let outcome = runtime.block_on(async {
        let stop = CancellationToken::new();
        tokio::select! {
            outcome = run(program, params, Concurrency::Iterative, Pace::Real { scale: 1.0 }, Arc::new(Print), stop.clone()) => outcome,
            _ = tokio::signal::ctrl_c() => Outcome::Stopped,
        }
    });
    Ok(match outcome {
        Outcome::Exited { code } => code,
        _ => 0,
    })
}

/// A line for stderr, then exit status 1: how the C programs give up.
struct Fatal(String);

struct Io {
    sink: Arc<dyn Sink>,
    pace: Pace,
    program: RefProgram,
    /// Where the events go among the actor's lanes: 0 but for a per-client server's tasks.
    lane: u32,
}

impl Io {
    /// The same program, reporting in another lane.
    fn in_lane(&self, lane: u32) -> Io {
        Io {
            sink: Arc::clone(&self.sink),
            pace: self.pace.clone(),
            program: self.program,
            lane,
        }
    }

    fn emit(&self, event: EventKind) {
        self.sink.emit_in(self.lane, event);
    }

    fn line(&self, stream: Stream, text: String) {
        self.emit(EventKind::Line { stream, text });
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
        self.emit(EventKind::Slept { declared });
        self.pace.sleep(declared).await;
        self.emit(EventKind::Woke);
    }

    fn sent(&self, protocol: Protocol, peer: SocketAddr, payload: &[u8]) {
        self.emit(EventKind::Sent {
            protocol,
            peer,
            payload: payload.to_vec(),
        });
    }

    fn received(&self, protocol: Protocol, peer: SocketAddr, payload: &[u8]) {
        self.emit(EventKind::Received {
            protocol,
            peer,
            payload: payload.to_vec(),
        });
    }

    fn ready(&self, protocol: Protocol, local: SocketAddr, peer: Option<SocketAddr>) {
        self.emit(EventKind::Ready {
            protocol,
            local,
            peer,
        });
    }
}

async fn udp_server(
    io: &Io,
    p: &RefParams,
    concurrency: Concurrency,
    stop: &CancellationToken,
) -> Result<Outcome, Fatal> {
    let any = SocketAddr::from((Ipv4Addr::UNSPECIFIED, p.port));
    let socket = match concurrency {
        Concurrency::Iterative => UdpSocket::bind(any)
            .await
            .map_err(|e| io.fatal("bind", &e))?,
        Concurrency::PerClient => udp_socket_for_many(io, any)?,
    };
    let socket = Arc::new(socket);
    io.ready(Protocol::Udp, socket.local_addr().unwrap_or(any), None);
    let replies = Replies::default();
    // Per client: each client address's queue of questions, and the tasks answering them.
    let mut lanes: HashMap<SocketAddr, mpsc::Sender<Vec<u8>>> = HashMap::new();
    let mut tasks = JoinSet::new();
    let mut buf = [0u8; BUFFER];
    loop {
        let received = tokio::select! {
            biased;
            () = stop.cancelled() => break,
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
        if concurrency == Concurrency::Iterative {
            answer_datagram(io, p, &socket, &replies, peer, payload).await;
            continue;
        }
        if !lanes.contains_key(&peer) && lanes.len() >= MAX_LANES {
            // More client addresses than any scenario has: a program sending from port
            // after port. Dropped, as a full socket buffer drops datagrams.
            continue;
        }
        let next_lane = lane_number(lanes.len());
        let lane = lanes.entry(peer).or_insert_with(|| {
            let (tx, mut rx) = mpsc::channel::<Vec<u8>>(QUEUE_PER_CLIENT);
            let (io, p) = (io.in_lane(next_lane), p.clone());
            let (socket, replies) = (Arc::clone(&socket), replies.clone());
            tasks.spawn(async move {
                while let Some(payload) = rx.recv().await {
                    answer_datagram(&io, &p, &socket, &replies, peer, &payload).await;
                }
            });
            tx
        });
        // A client whose questions pile up faster than it is answered (it floods) loses
        // the extra ones, as a full socket buffer would; memory stays bounded.
        let _ = lane.try_send(payload.to_vec());
    }
    // Stopped: each client's task answers what it was given, then ends.
    lanes.clear();
    while tasks.join_next().await.is_some() {}
    Ok(Outcome::Stopped)
}

/// One turn of the UDP server's loop, once a datagram is in: print it, reply, sleep.
async fn answer_datagram(
    io: &Io,
    p: &RefParams,
    socket: &UdpSocket,
    replies: &Replies,
    peer: SocketAddr,
    payload: &[u8],
) {
    io.received(Protocol::Udp, peer, payload);
    io.out(format!(
        "serveur {} a reçu le message {} de {}:{}",
        p.id,
        cstr::text(payload),
        peer.ip(),
        peer.port()
    ));
    let reply = cstr::with_nul(&format!(
        "serveur#{:>2} reponse{:03}#",
        p.id,
        replies.next()
    ));
    io.sent(Protocol::Udp, peer, &reply);
    if let Err(e) = socket.send_to(&reply, peer).await {
        io.out(format!("serveuru: sendto=-1: {}", strerror(&e)));
        return;
    }
    io.sleep(p.reply_delay).await;
}

/// A UDP socket bound to `any` with room for many clients' questions at once.
fn udp_socket_for_many(io: &Io, any: SocketAddr) -> Result<UdpSocket, Fatal> {
    let socket =
        Socket::new(Domain::IPV4, Type::DGRAM, None).map_err(|e| io.fatal("socket", &e))?;
    // Above `net.core.rmem_max` only with CAP_NET_ADMIN (labrun has it in its private
    // network); otherwise as much as the system allows.
    if nix::sys::socket::setsockopt(
        &socket,
        nix::sys::socket::sockopt::RcvBufForce,
        &MANY_RECEIVE_BUFFER,
    )
    .is_err()
    {
        let _ = socket.set_recv_buffer_size(MANY_RECEIVE_BUFFER);
    }
    socket.bind(&any.into()).map_err(|e| io.fatal("bind", &e))?;
    socket
        .set_nonblocking(true)
        .map_err(|e| io.fatal("socket", &e))?;
    UdpSocket::from_std(socket.into()).map_err(|e| io.fatal("socket", &e))
}

/// The server's reply counter: one for all its clients, from 000, shared by its tasks.
#[derive(Clone, Default)]
struct Replies(Arc<AtomicU32>);

impl Replies {
    fn next(&self) -> u32 {
        self.0.fetch_add(1, Ordering::Relaxed)
    }
}

/// Questions waiting per client of a per-client UDP server; a lab client has one at a time.
const QUEUE_PER_CLIENT: usize = 64;
/// Client addresses a per-client UDP server answers: above the 10,000 clients a scenario
/// may declare.
const MAX_LANES: usize = 16_384;

/// The lane of the `served`-th client served so far (from 0): lanes from 1, 0 being the
/// server's own.
fn lane_number(served: usize) -> u32 {
    u32::try_from(served).map_or(u32::MAX, |n| n.saturating_add(1))
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

async fn tcp_server(
    io: &Io,
    p: &RefParams,
    concurrency: Concurrency,
    stop: &CancellationToken,
) -> Result<Outcome, Fatal> {
    let any = SocketAddr::from((Ipv4Addr::UNSPECIFIED, p.port));
    let socket =
        Socket::new(Domain::IPV4, Type::STREAM, None).map_err(|e| io.fatal("socket", &e))?;
    // Like most completed versions of the lab: restart at once after a run.
    socket
        .set_reuse_address(true)
        .map_err(|e| io.fatal("socket", &e))?;
    socket.bind(&any.into()).map_err(|e| io.fatal("bind", &e))?;
    let backlog = match concurrency {
        Concurrency::Iterative => LAB_BACKLOG,
        Concurrency::PerClient => MANY_BACKLOG,
    };
    socket.listen(backlog).map_err(|e| io.fatal("listen", &e))?;
    socket
        .set_nonblocking(true)
        .map_err(|e| io.fatal("listen", &e))?;
    let listener = TcpListener::from_std(socket.into()).map_err(|e| io.fatal("listen", &e))?;
    io.ready(Protocol::Tcp, listener.local_addr().unwrap_or(any), None);
    let replies = Replies::default();
    let mut tasks = JoinSet::new();
    let mut served = 0usize;
    loop {
        let accepted = tokio::select! {
            biased;
            () = stop.cancelled() => break,
            // Per client: forget the connections that are over.
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                io.out(format!("serveur: accept=-1: {}", strerror(&e)));
                // Out of file descriptors, the connection stays pending and `accept` fails
                // again at once: wait for a connection to end, or a little, not in a loop.
                tokio::select! {
                    biased;
                    () = stop.cancelled() => break,
                    Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                    () = tokio::time::sleep(ACCEPT_RETRY) => {}
                }
                continue;
            }
        };
        match concurrency {
            Concurrency::Iterative => serve_connection(io, p, &replies, stream, peer).await,
            Concurrency::PerClient => {
                let (io, p) = (io.in_lane(lane_number(served)), p.clone());
                let replies = replies.clone();
                tasks.spawn(async move {
                    serve_connection(&io, &p, &replies, stream, peer).await;
                });
            }
        }
        served += 1;
    }
    // Stopped: the connections still open go on to their end.
    while tasks.join_next().await.is_some() {}
    Ok(Outcome::Stopped)
}

/// One connection of the TCP server: its exchanges, the optional sleep, `close`.
async fn serve_connection(
    io: &Io,
    p: &RefParams,
    replies: &Replies,
    mut stream: TcpStream,
    peer: SocketAddr,
) {
    quick_ack(&stream);
    let mut fin_seen = false;
    // Segments the socket had sent once the last reply was: one more by the time the
    // client's FIN is seen is its ACK, already out.
    let mut replied: Option<u32> = None;
    let mut buf = [0u8; BUFFER];
    for _ in 0..p.exchanges {
        let read = stream.read(&mut buf).await;
        quick_ack(&stream);
        let len = match read {
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
        let reply = cstr::with_nul(&format!("#{:>2}={:03}#", p.id, replies.next()));
        io.sent(Protocol::Tcp, peer, &reply);
        if let Err(e) = stream.write_all(&reply).await {
            io.out(format!("serveur: write=-1: {}", strerror(&e)));
            break;
        }
        quick_ack(&stream);
        replied = segments_sent(&stream);
        sleep_acking_close(io, &stream, p.reply_delay, &mut fin_seen, replied).await;
    }
    sleep_acking_close(io, &stream, p.close_delay, &mut fin_seen, replied).await;
    drop(stream);
}

/// Asks the kernel to acknowledge at once what `stream` receives, and to send now an
/// acknowledgement it was holding back.
///
/// Linux delays some ACKs by up to 40 ms, hoping to send them with the next data, and
/// whether it does depends on timing; in a private network the loopback's `quickack`
/// route metric turns that off, but setting it needs `CAP_NET_ADMIN` in the network, which
/// a run sharing the machine's does not have. `TCP_QUICKACK` is the socket's own switch,
/// which the kernel turns off again as it sees fit (an interactive exchange, a FIN): set
/// after every read and write, it keeps the reference programs' ACKs immediate, so that
/// their packets are the same in either network.
fn quick_ack(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    // SAFETY: setsockopt reads an int from a live local; the descriptor is the stream's.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_QUICKACK,
            (&raw const on).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// The server's sleep, during which the client may close.
///
/// The kernel holds back the ACK of a FIN that arrives then (it enters its "interactive"
/// mode on a FIN), and nothing makes it go at once short of reading the FIN, which would
/// change the socket's Recv-Q that `netstat` shows in CLOSE_WAIT. Where the loopback
/// acknowledges everything at once (a private network) it went out on arrival; elsewhere
/// it goes out when the delayed-ACK timer fires, some 40 ms later. At real time the server
/// is still asleep then; at `--time-scale 0` its sleep would end first, and its FIN carry
/// the ACK: the sleep therefore ends only once the server's socket has sent a segment
/// since the FIN came (or after [`ACK_PATIENCE`]). Nothing is read: data waiting unread
/// when the server closes would make the kernel reset the connection.
async fn sleep_acking_close(
    io: &Io,
    stream: &TcpStream,
    delay: Duration,
    fin_seen: &mut bool,
    replied: Option<u32>,
) {
    let sleep = io.sleep(delay);
    tokio::pin!(sleep);
    let mut watching = !*fin_seen;
    loop {
        let mut byte = [0u8; 1];
        tokio::select! {
            () = &mut sleep => break,
            peeked = stream.peek(&mut byte), if watching => {
                if matches!(peeked, Ok(0)) {
                    *fin_seen = true;
                    quick_ack(stream);
                    let now = segments_sent(stream);
                    // Already acknowledged (the loopback's quick ACKs of a private
                    // network do it as the FIN arrives): nothing to wait for.
                    let acked = matches!((now, replied), (Some(n), Some(r)) if n > r);
                    if !acked {
                        // While the clock holds, the ACK goes out in the sleep's time, as
                        // it does at real time.
                        let _hold = io.pace.hold();
                        ack_sent(stream, now).await;
                    }
                }
                watching = false;
            }
        }
    }
}

/// Waits until the socket has sent more than `before` segments, or [`ACK_PATIENCE`].
async fn ack_sent(stream: &TcpStream, before: Option<u32>) {
    let Some(before) = before else { return };
    let give_up = tokio::time::Instant::now() + ACK_PATIENCE;
    while segments_sent(stream).is_some_and(|now| now == before)
        && tokio::time::Instant::now() < give_up
    {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// The longest the kernel holds back an ACK (`TCP_DELACK_MAX`), and a margin.
const ACK_PATIENCE: Duration = Duration::from_millis(250);

/// How many segments the socket has sent, pure ACKs included (`tcpi_segs_out`).
fn segments_sent(stream: &TcpStream) -> Option<u32> {
    use std::os::fd::AsRawFd;
    // `struct tcp_info` of <linux/tcp.h>: `tcpi_segs_out` is the u32 at byte 136 (after
    // 8 bytes of u8 fields, 24 u32 and 4 u64), there since Linux 4.2.
    const SEGS_OUT: usize = 136;
    let mut info = [0u8; 256];
    let mut len = info.len() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `info` and updates `len`.
    let status = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            info.as_mut_ptr().cast(),
            &raw mut len,
        )
    };
    let len = usize::try_from(len).ok()?;
    if status != 0 || len < SEGS_OUT + 4 {
        return None;
    }
    let bytes = info.get(SEGS_OUT..SEGS_OUT + 4)?;
    Some(u32::from_ne_bytes(bytes.try_into().ok()?))
}

async fn tcp_client(io: &Io, p: &RefParams) -> Result<Outcome, Fatal> {
    let server = resolve(io, &p.host, p.port)?;
    let mut stream = TcpStream::connect(server)
        .await
        .map_err(|e| io.fatal("connect", &e))?;
    let me = local_v4(stream.local_addr());
    quick_ack(&stream);
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
        quick_ack(&stream);
        let read = stream.read(&mut buf).await;
        quick_ack(&stream);
        let len = match read {
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
