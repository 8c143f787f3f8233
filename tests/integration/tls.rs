//! TLS to the API: a custom CA bundle, from `--ca-bundle` or `plotly_ssl_verification`.
//!
//! A TLS-terminating proxy on 127.0.0.1 with a certificate from a throwaway CA forwards to the
//! sandbox, so plotward talks real HTTPS.

use std::net::SocketAddr;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use tokio_rustls::rustls::{self, pki_types::PrivateKeyDer};

use crate::api::example_sandbox;
use crate::harness::{Test, repo};

/// A TLS proxy to `target`, with the PEM of the CA that signed its certificate.
pub(crate) struct TlsProxy {
    /// `https://localhost:PORT`.
    pub url: String,
    /// The CA that signed the proxy's certificate.
    pub ca_pem: String,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Starts a TLS-terminating proxy on 127.0.0.1 in front of `target`.
pub(crate) fn tls_proxy(target: SocketAddr) -> TlsProxy {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "plotward test CA");
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    runtime.spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut upstream) = tokio::net::TcpStream::connect(target).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
            });
        }
    });
    TlsProxy {
        url: format!("https://localhost:{port}"),
        ca_pem,
        runtime: Some(runtime),
    }
}

fn sandbox_addr(url: &str) -> SocketAddr {
    url.trim_start_matches("http://").parse().unwrap()
}

#[test]
fn a_custom_ca_bundle_is_trusted_and_nothing_else_is() {
    let sandbox = example_sandbox();
    let proxy = tls_proxy(sandbox_addr(sandbox.url()));
    let policy = repo("policies/example.yaml").display().to_string();
    let https = || {
        Test::new()
            .write("ca.pem", &proxy.ca_pem)
            .env("PLOTLY_USERNAME", "alice")
            .env("PLOTLY_API_KEY", "alice-key")
            .args(["plan", "-p", &policy, "--api-url", &proxy.url])
    };
    let run = https().args(["--ca-bundle", "ca.pem"]).status(0);
    assert!(
        run.stdout
            .ends_with("Plan: 11 to restrict, 8 to expose, 26 unchanged, 39 ignored.\n"),
        "{}",
        run.stdout
    );
    https()
        .stderr_contains("invalid peer certificate: UnknownIssuer")
        .status(1);
    // The same bundle named in ~/.plotly/.config, as chart_studio's plotly_ssl_verification.
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &proxy.ca_pem).unwrap();
    let config = serde_json::json!({"plotly_api_domain": proxy.url, "plotly_ssl_verification": ca});
    Test::new()
        .write(".plotly/.config", &config.to_string())
        .write(
            ".plotly/.credentials",
            r#"{"username": "alice", "api_key": "alice-key"}"#,
        )
        .args(["plan", "-p", &policy])
        .status(0);
}

/// A CA bundle that is not PEM certificates is refused before anything is sent, naming the
/// file and the cause (it read "cannot build the HTTP client: builder error").
#[test]
fn an_unusable_ca_bundle_is_named_with_its_cause() {
    let policy = "version: 1\ndefault: private\n";
    let args = [
        "plan",
        "--api-url",
        "https://127.0.0.1:9",
        "--user",
        "alice",
        "--ca-bundle",
    ];
    Test::new()
        .policy(policy)
        .write(
            "bad.pem",
            "-----BEGIN CERTIFICATE-----\nZ2FyYmFnZQ==\n-----END CERTIFICATE-----\n",
        )
        .env("PLOTLY_API_KEY", "k")
        .args(args)
        .args(["bad.pem"])
        .stderr_contains("cannot use the CA bundle bad.pem (it must hold PEM certificates)")
        .stderr_contains("invalid peer certificate")
        .status(1);
    Test::new()
        .policy(policy)
        .write("empty.pem", "not a certificate\n")
        .env("PLOTLY_API_KEY", "k")
        .args(args)
        .args(["empty.pem"])
        .stderr_contains("CA bundle empty.pem holds no certificate")
        .status(1);
}
