//! Offloading's ordering contract over a real socket: results and direct replies reach the
//! client in request order, however long each job takes.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use turbine::{Config, Context, Handler, LinesCodec, Server, TestConnection};

/// `slow N` and `fast N` are offloaded (a slow job sleeps 30 ms); `now N` is answered on the
/// reactor. Every reply is `N`.
struct Mixed;

impl Handler for Mixed {
    type Codec = LinesCodec;

    fn codec(&mut self, config: &Config) -> LinesCodec {
        LinesCodec::new(config.max_frame)
    }

    fn on_frame(&mut self, ctx: &mut Context<'_, Self>, line: String) {
        let (kind, n) = line.split_once(' ').expect("KIND N");
        let n = n.to_string();
        let delay = match kind {
            "slow" => Duration::from_millis(30),
            "fast" => Duration::ZERO,
            _ => return ctx.send(n),
        };
        let job = move || {
            std::thread::sleep(delay);
            n
        };
        ctx.offload(job, |_, ctx, result| ctx.send(result.expect("job ran")))
            .expect("queue has room");
    }
}

/// The requests of the ordering tests: slow and fast jobs and direct answers interleaved.
fn requests() -> Vec<String> {
    (0..40)
        .map(|i| {
            let kind = ["slow", "fast", "now", "fast", "now"][i % 5];
            format!("{kind} {i}")
        })
        .collect()
}

/// Forty pipelined requests mixing slow jobs, fast jobs and replies made on the reactor come
/// back in request order, and the server holds no pending result afterwards.
#[test]
fn replies_keep_request_order_over_a_socket() {
    let config = Config::new()
        .addr("127.0.0.1:0".parse().unwrap())
        .reactors(1)
        .workers(4);
    let running = Server::bind(config).unwrap().start(|_| Mixed).unwrap();
    let mut client = TcpStream::connect(running.local_addr()).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let batch: String = requests().iter().map(|r| format!("{r}\n")).collect();
    client.write_all(batch.as_bytes()).unwrap();
    let mut replies = BufReader::new(client.try_clone().unwrap()).lines();
    for i in 0..40 {
        assert_eq!(replies.next().unwrap().unwrap(), i.to_string());
    }
    drop(replies);
    drop(client);
    let stats = running.stats_handle();
    running.shutdown().unwrap();
    assert_eq!(stats.snapshot().total().offloads, 0);
}

/// The same contract holds in memory with `TestConnection`, input pushed byte by byte.
#[test]
fn replies_keep_request_order_in_memory() {
    let mut conn = TestConnection::with_config(Mixed, Config::new().workers(4));
    let batch: String = requests().iter().map(|r| format!("{r}\n")).collect();
    for byte in batch.as_bytes() {
        conn.push(&[*byte]);
    }
    assert!(conn.finish_offloads(Duration::from_secs(20)));
    let expected: String = (0..40).map(|i| format!("{i}\n")).collect();
    assert_eq!(String::from_utf8(conn.take_output()).unwrap(), expected);
    assert_eq!(conn.stats().offloads, 0);
}
