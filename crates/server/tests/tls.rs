//! Desktops reach a server behind HTTPS, as in production, where a proxy ends TLS in front
//! of it. Here the proxy is a few lines of tokio-rustls on loopback, with a certificate made
//! for the test and trusted through `SSL_CERT_FILE`, as a company with its own authority
//! would do. Its own test binary, so the variable touches nothing else.

use std::sync::Arc;

use chrono::Utc;
use clientela_core::domain::{Assignment, CustomerFields, Email};
use clientela_core::store::{CustomerFilter, Store};
use clientela_core::sync::{sync_once, SyncClient};
use clientela_server::{serve, Db, Role};
use tokio::net::TcpListener;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::TlsAcceptor;

/// Ends TLS on a loopback port and passes the bytes on to `backend`; returns its port.
async fn tls_proxy(backend: std::net::SocketAddr, dir: &std::path::Path) -> u16 {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let pem = dir.join("authority.pem");
    std::fs::write(&pem, certified.cert.pem()).unwrap();
    // Read by every TLS client made after this, in this process only.
    std::env::set_var("SSL_CERT_FILE", &pem);

    let chain = vec![CertificateDer::from(certified.cert.der().to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let config = tokio_rustls::rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((incoming, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(incoming).await else {
                    return;
                };
                let Ok(mut plain) = tokio::net::TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desktops_sync_and_listen_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("server")).await.unwrap();
    let company = db.add_company("Clientela TLS").await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backend = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, db.clone(), std::future::pending()));
    let port = tls_proxy(backend, dir.path()).await;
    let url = format!("https://127.0.0.1:{port}");

    let mut desktops = Vec::new();
    for name in ["oficina", "portátil"] {
        let (_, secret) = db
            .add_credential(&company, Role::HeadOffice, None, name)
            .await
            .unwrap();
        let store = Store::open(&dir.path().join(format!("{name}.db")))
            .await
            .unwrap();
        desktops.push((store, SyncClient::new(&url, &secret).unwrap()));
    }
    let (office, office_client) = &desktops[0];
    let (laptop, laptop_client) = &desktops[1];

    // The laptop listens over wss:// and hears of the office's change.
    let (heard, mut hear) = tokio::sync::mpsc::unbounded_channel();
    let listening = laptop_client.clone();
    tokio::spawn(async move {
        let _ = listening
            .watch(&mut |head| {
                let _ = heard.send(head);
            })
            .await;
    });
    assert_eq!(
        hear.recv().await,
        Some(0),
        "the socket opens and says the head"
    );

    let fields = CustomerFields {
        first_name: "Ana".into(),
        emails: vec![Email {
            address: "ana@example.es".into(),
            label: None,
            primary: true,
        }],
        ..Default::default()
    };
    office
        .create_customer(&fields, &Assignment::AllBranches, "ES", Utc::now())
        .await
        .unwrap();
    sync_once(office, office_client, Utc::now()).await.unwrap();
    let head = hear.recv().await.unwrap();
    assert!(head > 0);

    sync_once(laptop, laptop_client, Utc::now()).await.unwrap();
    let page = laptop
        .list_customers(&CustomerFilter::default(), 0, 10)
        .await
        .unwrap();
    assert_eq!(page.rows.len(), 1);
    assert_eq!(page.rows[0].first_name, "Ana");
}
