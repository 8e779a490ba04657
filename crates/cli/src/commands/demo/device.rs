//! A simulated SSE device for `sse-connector demo`: a small HTTP/1.1 server on loopback.
//!
//! It serves two streams, the shapes real devices have:
//! - `/api/readings`: a `reading` event every 500 ms (temperature and humidity as JSON);
//! - `/events`: `door` and `alarm` events now and then, and a comment as heartbeat.
//!
//! Every event has an increasing id, and a reconnecting client that sends `Last-Event-ID`
//! resumes right after it. Every 25th event the device drops the connection, so the demo shows
//! the connector reconnect and resume without a gap.
//!
//! Written on a plain TCP listener: a demo device needs one GET route per stream and nothing of
//! a web framework.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// Events a connection carries before the device drops it.
const EVENTS_PER_CONNECTION: u64 = 25;

/// A running simulated device.
#[derive(Debug)]
pub struct SimulatedDevice {
    addr: SocketAddr,
}

impl SimulatedDevice {
    /// Starts the device on `bind` (port 0 picks a free port); it stops when `cancel` fires.
    ///
    /// # Errors
    /// When the address cannot be bound.
    pub async fn start(bind: SocketAddr, cancel: CancellationToken) -> std::io::Result<Self> {
        let listener = TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    () = cancel.cancelled() => return,
                    accepted = listener.accept() => accepted,
                };
                match accepted {
                    Ok((socket, _)) => {
                        tokio::spawn(serve(socket, cancel.clone()));
                    }
                    Err(error) => tracing::debug!(%error, "demo device: accept failed"),
                }
            }
        });
        Ok(Self { addr })
    }

    /// The device's base address, e.g. `http://127.0.0.1:41234`.
    pub fn address(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// The streams the device serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Readings,
    Events,
}

async fn serve(socket: TcpStream, cancel: CancellationToken) {
    let (read, mut write) = socket.into_split();
    let mut reader = BufReader::new(read);
    let Some((route, last_id)) = read_request(&mut reader).await else {
        let _ = write
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await;
        return;
    };
    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\
                Connection: close\r\n\r\nretry: 1000\n\n";
    if write.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let mut id = last_id;
    for _ in 0..EVENTS_PER_CONNECTION {
        let pause = match route {
            Route::Readings => Duration::from_millis(500),
            Route::Events => Duration::from_millis(1500),
        };
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(pause) => {}
        }
        id += 1;
        if write.write_all(event(route, id).as_bytes()).await.is_err() {
            return;
        }
    }
    // Dropping the connection here is the point: the connector must resume after `id`.
}

/// Reads the request head: the route and the `Last-Event-ID` to resume after.
async fn read_request(
    reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
) -> Option<(Route, u64)> {
    let mut line = String::new();
    reader.read_line(&mut line).await.ok()?;
    let path = line
        .split_whitespace()
        .nth(1)?
        .split('?')
        .next()?
        .to_owned();
    let mut last_id = 0;
    loop {
        line.clear();
        if reader.read_line(&mut line).await.ok()? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.trim().eq_ignore_ascii_case("last-event-id")
        {
            last_id = value.trim().parse().unwrap_or(0);
        }
    }
    let route = match path.as_str() {
        "/api/readings" => Route::Readings,
        "/events" => Route::Events,
        _ => return None,
    };
    Some((route, last_id))
}

/// The event with id `id` on `route`: the same id always gives the same event.
fn event(route: Route, id: u64) -> String {
    match route {
        Route::Readings => {
            let temperature = 20.0 + (id % 17) as f64 * 0.3;
            let humidity = 40 + id % 11;
            format!(
                "id: {id}\nevent: reading\ndata: {{\"sensor\":\"env-01\",\"temperature\":{temperature:.1},\
                 \"humidity\":{humidity},\"seq\":{id}}}\n\n"
            )
        }
        Route::Events if id.is_multiple_of(3) => format!(
            "id: {id}\nevent: alarm\ndata: {{\"source\":\"press-07\",\"level\":\"high\",\"seq\":{id}}}\n\n"
        ),
        Route::Events => {
            let state = if id.is_multiple_of(2) {
                "open"
            } else {
                "closed"
            };
            format!(
                ": heartbeat\nid: {id}\nevent: door\ndata: {{\"door\":\"dock-2\",\"state\":\"{state}\",\"seq\":{id}}}\n\n"
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_well_formed_and_resumable() {
        let reading = event(Route::Readings, 7);
        assert!(reading.starts_with("id: 7\nevent: reading\ndata: {"));
        assert!(reading.ends_with("}\n\n"));
        assert_eq!(event(Route::Readings, 7), reading, "same id, same event");
        assert!(event(Route::Events, 9).contains("event: alarm"));
        assert!(event(Route::Events, 10).contains("event: door"));
    }
}
