//! Three desktops make random changes to the same customers, syncing at random moments
//! (the rest of the time they are offline), with clocks that disagree by minutes. Once all
//! of them have synced twice, every desktop holds exactly the same customers with exactly
//! the same values.

mod common;

use std::path::Path;

use chrono::{DateTime, Duration, TimeZone, Utc};
use clientela_core::domain::{Assignment, CustomerFields, CustomerId, Email, Phone};
use clientela_core::store::{CustomerFilter, Store};
use clientela_core::sync::{sync_once, SyncClient};
use clientela_server::{serve, Backend, Role};
use rstest::rstest;
use tokio::sync::oneshot;

/// Runs per seed, and seeds tried; each failure names its seed.
const STEPS: usize = 60;
const SEEDS: u64 = 12;

/// A small deterministic generator (xorshift64*), so a failing seed can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

struct Node {
    store: Store,
    client: SyncClient,
    /// How far this desktop's clock is off, in seconds.
    skew: i64,
}

impl Node {
    fn clock(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        t + Duration::seconds(self.skew)
    }
}

async fn customers(store: &Store) -> Vec<(CustomerId, CustomerFields, Assignment)> {
    let page = store
        .list_customers(&CustomerFilter::default(), 0, 500)
        .await
        .unwrap();
    let mut all = Vec::new();
    for row in page.rows {
        let c = store.customer(row.id).await.unwrap();
        all.push((c.id, c.fields, c.assignment));
    }
    all.sort_by_key(|(id, _, _)| *id);
    all
}

fn person(rng: &mut Rng, n: usize) -> CustomerFields {
    const NAMES: [&str; 5] = ["Ana", "Íñigo", "Zoë", "Celia", "Diego"];
    CustomerFields {
        first_name: NAMES[rng.below(NAMES.len())].into(),
        last_name: format!("Prueba {n}"),
        emails: vec![Email {
            address: format!("p{n}.{}@example.com", rng.below(1000)),
            label: None,
            primary: true,
        }],
        phones: vec![Phone {
            number: format!("+3460000{:04}", rng.below(10_000)),
            label: None,
            primary: true,
        }],
        ..Default::default()
    }
}

async fn run(backend: Backend, seed: u64, dir: &Path) {
    let (db, _) = common::database(backend, dir).await;
    let company = db.add_company("Convergencia").await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (_stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(serve(listener, db.clone(), async {
        let _ = stopped.await;
    }));

    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut nodes = Vec::new();
    for i in 0..3 {
        let (_, secret) = db
            .add_credential(&company, Role::HeadOffice, None, &format!("desk {i}"))
            .await
            .unwrap();
        nodes.push(Node {
            store: Store::open(&dir.join(format!("desk-{i}.db")))
                .await
                .unwrap(),
            client: SyncClient::new(&url, &secret).unwrap(),
            skew: rng.below(1200) as i64 - 600,
        });
    }

    let mut t = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap();
    let mut made = 0;
    for _ in 0..STEPS {
        t += Duration::seconds(rng.below(300) as i64 + 1);
        let node = &nodes[rng.below(nodes.len())];
        let now = node.clock(t);
        let known = customers(&node.store).await;
        match rng.below(10) {
            // Sync now and then; otherwise this desktop is offline.
            0..=2 => {
                sync_once(&node.store, &node.client, now).await.unwrap();
            }
            3 | 4 => {
                made += 1;
                let fields = person(&mut rng, made);
                node.store
                    .create_customer(&fields, &Assignment::AllBranches, "ES", now)
                    .await
                    .unwrap();
            }
            5..=8 if !known.is_empty() => {
                let (id, mut fields, assignment) = known[rng.below(known.len())].clone();
                match rng.below(3) {
                    0 => fields.notes = format!("nota {}", rng.below(100)),
                    1 => fields.company = format!("Empresa {}", rng.below(5)),
                    _ => fields.first_name = format!("Nombre {}", rng.below(5)),
                }
                node.store
                    .update_customer(id, &fields, &assignment, "ES", now)
                    .await
                    .unwrap();
            }
            9 if !known.is_empty() => {
                let (id, _, _) = known[rng.below(known.len())].clone();
                node.store.delete_customer(id, now).await.unwrap();
            }
            _ => {}
        }
    }

    // Everyone comes back online: two rounds each, so every change has gone round.
    for _ in 0..2 {
        t += Duration::minutes(1);
        for node in &nodes {
            sync_once(&node.store, &node.client, node.clock(t))
                .await
                .unwrap();
        }
    }
    let first = customers(&nodes[0].store).await;
    for (i, node) in nodes.iter().enumerate().skip(1) {
        let other = customers(&node.store).await;
        assert_eq!(
            first, other,
            "seed {seed}: desktop {i} differs from desktop 0 after syncing"
        );
        assert_eq!(node.store.outbox_len().await.unwrap(), 0, "seed {seed}");
    }
}

#[rstest]
#[case::sqlite(Backend::Sqlite)]
#[case::postgres(Backend::Postgres)]
#[tokio::test]
async fn three_desktops_with_random_offline_edits_converge(#[case] backend: Backend) {
    for seed in 1..=SEEDS {
        let dir = tempfile::tempdir().unwrap();
        run(backend, seed, dir.path()).await;
    }
}
