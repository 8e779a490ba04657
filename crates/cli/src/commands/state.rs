//! `sse-connector state get|set|del|keys|watch`: the broker's state store from the command
//! line, for looking at what `BrokerStateStore` datasets wrote (and for scripts).
//!
//! `get`, `set`, `del` and `watch` speak AIO's state store protocol to the broker given by
//! `--broker`, resolved like `run` resolves its own (the same option, `SSE_CONNECTOR_BROKER`
//! or AIO's variables, the config file), except that "embedded" or nothing at all means the
//! embedded broker of a connector running here (`127.0.0.1:1883`, or `embeddedBrokerAddr`
//! from the config file): a client cannot start a broker. Each command connects with its own
//! client id (`sse-connector-state-PID` unless `--client-id`), so it never takes over the
//! connector's session.
//!
//! `keys` is different: the protocol has no way to list keys, so it reads the persisted log
//! of the embedded state store service (`STATE_DIR/statestore`) directly, read-only and
//! beside a running service. A remote store (AIO's) cannot list its keys.
//!
//! Output: `get` writes the value's bytes exactly as stored (plus a line break when standard
//! output is a terminal); `watch` writes one line per change, `SET <value>` or `DELETE`, with
//! line breaks inside values written as `\n` and `\r`. `--json` writes one JSON object per
//! line instead: `value` holds a UTF-8 value, `valueHex` any other.
//!
//! Exit status: 0 done; 1 failed, including `get` or `del` of a key that does not exist
//! ("not found" on standard error, as kubectl does; `del --ignore-not-found` exits 0); 2 an
//! invalid command line. `watch` runs until Ctrl-C or SIGTERM, then stops observing and exits
//! 0.

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};
use statestore::{ErrorKind, KeyNotification, Notification, StateStoreClient, StoredKey};

use crate::commands::run::settings::{BrokerCredentials, resolve_client_broker};
use crate::commands::run::state_store::STATESTORE_DIR;
use crate::commands::state_dir::StateDirArgs;
use crate::output;
use crate::shutdown::Shutdown;
use crate::values;

/// Arguments of `state`.
#[derive(Debug, Args)]
pub struct StateArgs {
    #[command(subcommand)]
    command: StateCommand,
}

#[derive(Debug, Subcommand)]
enum StateCommand {
    /// Print the value of KEY (its bytes as stored); exit 1 when it does not exist
    Get(GetArgs),
    /// Set KEY to VALUE (or to the contents of a file)
    Set(SetArgs),
    /// Delete KEY; exit 1 when it does not exist (unless --ignore-not-found)
    Del(DelArgs),
    /// List the keys of the embedded state store persisted in the state directory
    #[command(
        long_about = "List the keys of the embedded state store, read from its files in \
                      STATE_DIR/statestore (read-only; works while the connector runs). AIO's \
                      state store protocol cannot list keys, so a remote state store (for \
                      example AIO's broker) cannot be listed."
    )]
    Keys(KeysArgs),
    /// Print every change of KEY, one line each (`SET <value>` or `DELETE`), until Ctrl-C
    Watch(WatchArgs),
}

/// The broker connection of `get`, `set`, `del` and `watch`.
#[derive(Debug, Args)]
struct Connection {
    /// YAML settings file of `run`; its broker settings are used
    #[arg(long, value_name = "FILE", env = "SSE_CONNECTOR_CONFIG")]
    config: Option<PathBuf>,

    /// MQTT broker: mqtt://HOST[:PORT] or mqtts://HOST[:PORT] [default: the embedded broker
    /// of a connector running here, mqtt://127.0.0.1:1883]
    #[arg(
        long,
        value_name = "URL",
        env = "SSE_CONNECTOR_BROKER",
        help_heading = "Broker"
    )]
    broker: Option<String>,

    #[command(flatten)]
    credentials: BrokerCredentials,

    /// MQTT client id of this command [default: sse-connector-state-PID]
    #[arg(long, value_name = "ID", help_heading = "Broker")]
    client_id: Option<String>,

    /// How long to wait for the broker and for the state store's reply
    #[arg(long, value_name = "DURATION", value_parser = values::duration, default_value = "10s")]
    timeout: Duration,
}

#[derive(Debug, Args)]
struct GetArgs {
    /// The key
    key: String,
    /// Print `{"key":..., "value":...}` (or `valueHex` for a value that is not UTF-8)
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    connection: Connection,
}

#[derive(Debug, Args)]
struct SetArgs {
    /// The key
    key: String,
    /// The value
    #[arg(required_unless_present = "from_file")]
    value: Option<String>,
    /// Read the value from this file (`-` for standard input), byte for byte
    #[arg(long, value_name = "FILE", conflicts_with = "value")]
    from_file: Option<PathBuf>,
    #[command(flatten)]
    connection: Connection,
}

#[derive(Debug, Args)]
struct DelArgs {
    /// The key
    key: String,
    /// Exit 0 when the key does not exist
    #[arg(long)]
    ignore_not_found: bool,
    #[command(flatten)]
    connection: Connection,
}

#[derive(Debug, Args)]
struct KeysArgs {
    #[command(flatten)]
    state_dir: StateDirArgs,
    /// One JSON object per key: key, value (or valueHex), version, expiresAt (ms)
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct WatchArgs {
    /// The key
    key: String,
    /// One JSON object per change: key, operation (SET or DELETE), value, version
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    connection: Connection,
}

/// Runs one `state` command.
///
/// # Errors
/// When the broker or the state store cannot be reached in time, refuses the request, the
/// key does not exist (`get`, `del`), or the state directory cannot be read (`keys`).
pub async fn run(args: StateArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        StateCommand::Get(args) => get(args).await,
        StateCommand::Set(args) => set(args).await,
        StateCommand::Del(args) => del(args).await,
        StateCommand::Keys(args) => keys(&args),
        StateCommand::Watch(args) => watch(args, Shutdown::install()).await,
    }
}

/// A client on the resolved broker, and the broker's URL for messages.
struct Session {
    client: StateStoreClient,
    url: String,
}

impl Session {
    fn start(connection: &Connection) -> anyhow::Result<Self> {
        let broker = resolve_client_broker(
            connection.config.as_deref(),
            connection.broker.as_ref(),
            &connection.credentials,
        )?;
        let mut mqtt = broker.mqtt;
        mqtt.client_id = connection
            .client_id
            .clone()
            .unwrap_or_else(|| format!("sse-connector-state-{}", std::process::id()));
        // A short-lived client: nothing for the broker to keep after it.
        mqtt.clean_start = true;
        mqtt.session_expiry = Duration::ZERO;
        let client = StateStoreClient::start(mqtt)
            .context("cannot start the state store client")?
            .with_timeout(connection.timeout);
        Ok(Self {
            client,
            url: broker.url,
        })
    }

    /// The error of a request, with where it went and, for a missing reply, what to check.
    fn explain(&self, error: statestore::Error) -> anyhow::Error {
        let hint = match error.kind() {
            ErrorKind::Timeout if error.to_string().contains("no response") => {
                "; is a state store serving this broker? (`sse-connector run` starts one on \
                 its embedded broker, or with --state-store embedded)"
            }
            ErrorKind::Timeout => "; is the broker running?",
            _ => "",
        };
        anyhow::anyhow!("state store on {}: {error}{hint}", self.url)
    }
}

async fn get(args: GetArgs) -> anyhow::Result<ExitCode> {
    let session = Session::start(&args.connection)?;
    let value = session
        .client
        .get(args.key.clone())
        .await
        .map_err(|e| session.explain(e))?;
    session.client.close();
    let Some(value) = value else {
        anyhow::bail!("key {:?} not found", args.key);
    };
    let mut stdout = std::io::stdout().lock();
    let written = if args.json {
        let mut object = Map::new();
        object.insert("key".into(), Value::from(args.key));
        insert_value(&mut object, &value);
        writeln!(stdout, "{}", Value::Object(object))
    } else {
        stdout.write_all(&value).and_then(|()| {
            if std::io::stdout().is_terminal() && !value.ends_with(b"\n") {
                stdout.write_all(b"\n")
            } else {
                Ok(())
            }
        })
    };
    finish_output(written.and_then(|()| stdout.flush()))
}

async fn set(args: SetArgs) -> anyhow::Result<ExitCode> {
    let value = match (&args.value, &args.from_file) {
        (Some(value), _) => Bytes::from(value.clone()),
        (None, Some(path)) if path.as_os_str() == "-" => {
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut data)
                .context("cannot read the value from standard input")?;
            Bytes::from(data)
        }
        (None, Some(path)) => Bytes::from(
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?,
        ),
        (None, None) => unreachable!("clap requires VALUE or --from-file"),
    };
    let session = Session::start(&args.connection)?;
    let applied = session
        .client
        .set(args.key.clone(), value, statestore::SetOptions::default())
        .await
        .map_err(|e| session.explain(e))?;
    session.client.close();
    // An unconditional SET always applies; `false` would be a service out of protocol.
    anyhow::ensure!(
        applied,
        "the state store did not apply the SET of {:?}",
        args.key
    );
    Ok(ExitCode::SUCCESS)
}

async fn del(args: DelArgs) -> anyhow::Result<ExitCode> {
    let session = Session::start(&args.connection)?;
    let deleted = session
        .client
        .del(args.key.clone(), None)
        .await
        .map_err(|e| session.explain(e))?;
    session.client.close();
    if deleted == 0 && !args.ignore_not_found {
        anyhow::bail!("key {:?} not found", args.key);
    }
    Ok(ExitCode::SUCCESS)
}

fn keys(args: &KeysArgs) -> anyhow::Result<ExitCode> {
    let state_dir = args.state_dir.resolve()?;
    let dir = state_dir.join(STATESTORE_DIR);
    let keys = statestore::stored_keys(&dir).with_context(|| {
        format!(
            "cannot list the keys of the embedded state store in {} (`state keys` reads the \
             files of the embedded state store; a remote state store, such as AIO's, cannot \
             list its keys)",
            dir.display()
        )
    })?;
    let mut stdout = std::io::stdout().lock();
    let mut written = Ok(());
    for key in &keys {
        written = if args.json {
            writeln!(stdout, "{}", stored_key_json(key))
        } else {
            stdout
                .write_all(&key.key)
                .and_then(|()| stdout.write_all(b"\n"))
        };
        if written.is_err() {
            break;
        }
    }
    finish_output(written.and_then(|()| stdout.flush()))
}

async fn watch(args: WatchArgs, shutdown: Shutdown) -> anyhow::Result<ExitCode> {
    let session = Session::start(&args.connection)?;
    let mut observation = session
        .client
        .observe(args.key.clone())
        .await
        .map_err(|e| session.explain(e))?;
    eprintln!("watching {:?} on {}; Ctrl-C to stop", args.key, session.url);
    let outcome = loop {
        let notification = tokio::select! {
            _ = shutdown.requested() => break Ok(ExitCode::SUCCESS),
            notification = observation.recv() => notification,
        };
        let Some(notification) = notification else {
            break Err(anyhow::anyhow!(
                "the observation of {:?} ended: the state store client shut down",
                args.key
            ));
        };
        let line = if args.json {
            notification_json(&notification).to_string().into_bytes()
        } else {
            notification_line(&notification.operation)
        };
        let mut stdout = std::io::stdout().lock();
        let written = stdout
            .write_all(&line)
            .and_then(|()| stdout.write_all(b"\n"))
            .and_then(|()| stdout.flush());
        match written {
            Ok(()) => {}
            Err(error) if output::is_broken_pipe(&error) => break Ok(ExitCode::SUCCESS),
            Err(error) => break Err(anyhow::Error::new(error).context("cannot write the output")),
        }
    };
    // So the service stops notifying a client that is gone (bounded by --timeout).
    if let Err(error) = session.client.unobserve(args.key.clone()).await {
        tracing::debug!(%error, "KEYNOTIFY STOP failed");
    }
    session.client.close();
    outcome
}

/// Exit 0, also when the reader of standard output went away.
fn finish_output(written: std::io::Result<()>) -> anyhow::Result<ExitCode> {
    match written {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(error) if output::is_broken_pipe(&error) => Ok(ExitCode::SUCCESS),
        Err(error) => Err(anyhow::Error::new(error).context("cannot write the output")),
    }
}

/// `SET <value>` or `DELETE`; line breaks in the value written as `\n` and `\r`, so each
/// change is one line.
fn notification_line(operation: &Notification) -> Vec<u8> {
    match operation {
        Notification::Set(value) => {
            let mut line = b"SET ".to_vec();
            for &byte in value.iter() {
                match byte {
                    b'\n' => line.extend_from_slice(b"\\n"),
                    b'\r' => line.extend_from_slice(b"\\r"),
                    _ => line.push(byte),
                }
            }
            line
        }
        Notification::Delete => b"DELETE".to_vec(),
    }
}

/// `value` for a UTF-8 value, `valueHex` (lower-case) for any other.
fn insert_value(object: &mut Map<String, Value>, value: &[u8]) {
    match std::str::from_utf8(value) {
        Ok(text) => object.insert("value".into(), Value::from(text)),
        Err(_) => object.insert("valueHex".into(), Value::from(hex(value))),
    };
}

fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

fn lossy(data: &[u8]) -> Value {
    Value::from(String::from_utf8_lossy(data).into_owned())
}

fn notification_json(notification: &KeyNotification) -> Value {
    let mut object = Map::new();
    object.insert("key".into(), lossy(&notification.key));
    match &notification.operation {
        Notification::Set(value) => {
            object.insert("operation".into(), json!("SET"));
            insert_value(&mut object, value);
        }
        Notification::Delete => {
            object.insert("operation".into(), json!("DELETE"));
        }
    }
    if let Some(version) = &notification.version {
        object.insert("version".into(), Value::from(version.to_string()));
    }
    Value::Object(object)
}

fn stored_key_json(key: &StoredKey) -> Value {
    let mut object = Map::new();
    object.insert("key".into(), lossy(&key.key));
    insert_value(&mut object, &key.value);
    object.insert("version".into(), Value::from(key.version.to_string()));
    if let Some(at) = key.expires_at {
        object.insert("expiresAt".into(), Value::from(at));
    }
    Value::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_lines_are_one_line_each() {
        assert_eq!(
            notification_line(&Notification::Set(Bytes::from_static(b"{\"a\":\n1}\r"))),
            b"SET {\"a\":\\n1}\\r"
        );
        assert_eq!(notification_line(&Notification::Delete), b"DELETE");
    }

    #[test]
    fn json_values_are_text_or_hex() {
        let mut object = Map::new();
        insert_value(&mut object, b"caf\xc3\xa9");
        insert_value(&mut object, b"\xff\x00");
        assert_eq!(
            Value::Object(object),
            json!({"value": "café", "valueHex": "ff00"})
        );
    }
}
