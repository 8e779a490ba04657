//! The lease and fencing protocol against the embedded state store service, on the embedded
//! broker and on mosquitto.

#![allow(clippy::unwrap_used)]

use aio_mqtt::MqttConfig;
use model::plan::Credentials;
use statestore::StateStoreService;
use test_support::AnyBroker;

use super::*;

const WAIT: Duration = Duration::from_secs(20);

fn config(broker: &AnyBroker, name: &str) -> MqttConfig {
    let addr = broker.addr();
    let mut config = MqttConfig::new(addr.ip().to_string(), addr.port());
    config.client_id = AnyBroker::client_id(name);
    config
}

async fn service(broker: &AnyBroker, dir: &std::path::Path) -> StateStoreService {
    let service = StateStoreService::start(config(broker, "service"), dir.to_owned()).unwrap();
    tokio::time::timeout(WAIT, service.ready()).await.unwrap();
    service
}

/// A replica's checkpoints: its own client, leases held as `holder`.
async fn replica(broker: &AnyBroker, holder: &str, timing: LeaseTiming) -> SharedCheckpoints {
    let client = StateStoreClient::start(config(broker, holder)).unwrap();
    tokio::time::timeout(WAIT, client.ready()).await.unwrap();
    SharedCheckpoints::new(&client, holder).with_timing(timing)
}

fn keys() -> StreamKeys {
    let device = DeviceIdentity {
        name: "boiler-gw".into(),
        endpoint: "ep".into(),
        uuid: None,
        external_id: None,
        version: None,
    };
    let stream = StreamSpec {
        url: "http://10.0.0.7/events".parse().unwrap(),
        credentials: Credentials::Anonymous,
        trust: Vec::new(),
    };
    SharedCheckpoints::keys(&device, &stream)
}

fn timing(lease_ms: u64, interval_ms: u64) -> LeaseTiming {
    LeaseTiming {
        lease: Duration::from_millis(lease_ms),
        interval: Duration::from_millis(interval_ms),
        poll: Duration::from_millis(50),
    }
}

/// The stored checkpoint and its owner.
async fn stored(shared: &SharedCheckpoints, keys: &StreamKeys) -> (Option<String>, String) {
    let bytes = shared
        .client
        .get(keys.checkpoint.clone())
        .await
        .unwrap()
        .unwrap();
    let stored = decode(&bytes).unwrap();
    (stored.last_event_id, stored.owner)
}

fn owned(acquired: Acquired) -> (Option<String>, Owner) {
    match acquired {
        Acquired::Owned { checkpoint, owner } => (checkpoint, owner),
        Acquired::Unavailable => panic!("the store did not answer"),
        Acquired::Stopped => panic!("stopped"),
    }
}

#[test]
fn keys_name_the_device_endpoint_and_the_stream() {
    let keys = keys();
    let hash = format!("{:016x}", fnv1a64(&keys.identity));
    assert_eq!(
        keys.checkpoint,
        format!("sse-connector/checkpoints/boiler-gw_ep/{hash}")
    );
    assert_eq!(keys.lock, format!("{}/lock", keys.checkpoint));
}

async fn a_stale_owner_is_fenced_out(broker: AnyBroker) {
    let dir = tempfile::tempdir().unwrap();
    let _service = service(&broker, dir.path()).await;
    let keys = keys();
    let a = replica(&broker, "replica-a", timing(300, 100)).await;
    let b = replica(&broker, "replica-b", timing(300, 100)).await;

    let token_a = a.lease_of(&keys.lock).await.unwrap().unwrap();
    assert_eq!(a.claim(&keys, &token_a, None).await.unwrap(), Some(None));
    a.write(&keys, &token_a, "5").await.unwrap();
    assert_eq!(b.lease_of(&keys.lock).await.unwrap(), None, "a holds it");
    assert!(
        a.lease_of(&keys.lock).await.unwrap().is_some(),
        "its holder renews it"
    );

    // A stops renewing (cut off, or frozen); its lease expires and B takes over.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let token_b = b.lease_of(&keys.lock).await.unwrap().unwrap();
    assert!(token_b > token_a, "{token_b} after {token_a}");
    assert_eq!(
        b.claim(&keys, &token_b, Some("1")).await.unwrap(),
        Some(Some("5".to_owned())),
        "the stored checkpoint wins over B's file"
    );

    // A's writes are refused from the claim on, before and after B's own.
    let refused = a.write(&keys, &token_a, "6").await.unwrap_err();
    assert!(is_fenced_out(&refused), "{refused}");
    b.write(&keys, &token_b, "7").await.unwrap();
    let refused = a.write(&keys, &token_a, "4").await.unwrap_err();
    assert!(is_fenced_out(&refused), "{refused}");
    assert_eq!(
        stored(&b, &keys).await,
        (Some("7".to_owned()), "replica-b".to_owned())
    );
    // A claiming with its old token learns it lost.
    assert_eq!(a.claim(&keys, &token_a, None).await.unwrap(), None);
}

async fn a_release_hands_the_checkpoint_over(broker: AnyBroker) {
    let dir = tempfile::tempdir().unwrap();
    let _service = service(&broker, dir.path()).await;
    let keys = keys();
    let a = replica(&broker, "replica-a", timing(10_000, 100)).await;
    let b = replica(&broker, "replica-b", timing(10_000, 100)).await;
    let stop = CancellationToken::new();

    // Nothing stored yet: A starts from its file's checkpoint, and claims it.
    let (start, owner_a) = owned(a.acquire(&keys, Some("3".into()), &stop).await);
    assert_eq!(start.as_deref(), Some("3"));
    assert_eq!(
        stored(&a, &keys).await,
        (Some("3".to_owned()), "replica-a".to_owned())
    );

    // B waits while A holds the lease, however long.
    let waiting = {
        let (b, keys, stop) = (b.clone(), keys.clone(), stop.clone());
        tokio::spawn(async move { owned(b.acquire(&keys, Some("1".into()), &stop).await) })
    };
    owner_a.save(&SmolStr::new("10"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!waiting.is_finished(), "B waits for the lease");
    assert_eq!(
        stored(&a, &keys).await.0.as_deref(),
        Some("10"),
        "the keeper wrote the moved checkpoint"
    );

    // A releases after its last checkpoint; B resumes from it.
    owner_a.release(Some("12")).await;
    let (start, owner_b) = tokio::time::timeout(WAIT, waiting).await.unwrap().unwrap();
    assert_eq!(start.as_deref(), Some("12"));
    owner_b.release(Some("13")).await;
    assert_eq!(
        stored(&b, &keys).await,
        (Some("13".to_owned()), "replica-b".to_owned())
    );
    assert_eq!(
        b.client.get(keys.lock.clone()).await.unwrap(),
        None,
        "released"
    );

    // A stopped stream stops waiting.
    let _held = owned(a.acquire(&keys, None, &stop).await);
    let stopped = CancellationToken::new();
    stopped.cancel();
    assert!(matches!(
        b.acquire(&keys, None, &stopped).await,
        Acquired::Stopped
    ));
}

async fn a_lost_lease_is_noticed_and_writes_nothing_more(broker: AnyBroker) {
    let dir = tempfile::tempdir().unwrap();
    let _service = service(&broker, dir.path()).await;
    let keys = keys();
    // A renews less often than its lease lasts: the lease lapses between renewals.
    let a = replica(&broker, "replica-a", timing(300, 1_000)).await;
    let b = replica(&broker, "replica-b", timing(10_000, 100)).await;
    let stop = CancellationToken::new();
    let (_, owner_a) = owned(a.acquire(&keys, Some("15".into()), &stop).await);
    let (start, owner_b) = owned(
        tokio::time::timeout(WAIT, b.acquire(&keys, None, &stop))
            .await
            .unwrap(),
    );
    assert_eq!(start.as_deref(), Some("15"));
    owner_b.save(&SmolStr::new("20"));
    owner_a.save(&SmolStr::new("16"));
    tokio::time::timeout(WAIT, owner_a.lost().cancelled())
        .await
        .unwrap();
    owner_a.release(Some("17")).await;
    owner_b.release(Some("21")).await;
    assert_eq!(
        stored(&b, &keys).await,
        (Some("21".to_owned()), "replica-b".to_owned())
    );
}

async fn without_an_answer_the_file_is_used(broker: AnyBroker) {
    // No state store service on this broker.
    let a = replica(&broker, "replica-a", LeaseTiming::default()).await;
    let stop = CancellationToken::new();
    assert!(matches!(
        a.acquire(&keys(), Some("3".into()), &stop).await,
        Acquired::Unavailable
    ));
}

macro_rules! on_both_brokers {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn mosquitto() {
                    super::$name(test_support::AnyBroker::mosquitto().await).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn embedded() {
                    super::$name(test_support::AnyBroker::embedded().await).await;
                }
            }
        )*
    };
}

on_both_brokers!(
    a_stale_owner_is_fenced_out,
    a_release_hands_the_checkpoint_over,
    a_lost_lease_is_noticed_and_writes_nothing_more,
    without_an_answer_the_file_is_used,
);
