//! `crypto-bench [N]` (`make crypto-bench`): what each crypto provider the functions can link costs.
//!
//! **TLS.** What each TLS provider the AWS SDK can use (rustls on aws-lc-rs, the SDK's default,
//! or on ring) costs the client of a cold start's first call: N full TLS 1.3 handshakes
//! in memory, against a server presenting an RSA 2048 chain as AWS endpoints do
//! (`assets/`). Only the client's own work is timed (building its connection and
//! processing every flight); the server, always aws-lc-rs with every group, is not. Each
//! provider as the SDK configures it: aws-lc-rs prefers the post-quantum hybrid X25519MLKEM768,
//! ring has X25519.
//!
//! **Tokens.** Every API request checks its bearer token's signature. jsonwebtoken checks it with
//! aws-lc-rs or with RustCrypto (`p256`, `rsa`); both are timed as jsonwebtoken calls them, the
//! public key parsed on each check, for ES256 and RS256 (2048-bit).
//!
//! **CA bundle.** What the JWKS reader's HTTPS client spends at a function's init loading the
//! system's CA bundle into trust anchors (docs/build.md, "Cold start").
//!
//! Figures: docs/build.md, "TLS and crypto provider".

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SERVER_NAME: &str = "dynamodb.ap-southeast-1.amazonaws.com";

fn asset(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets")
        .join(name)
}

fn server() -> Arc<ServerConfig> {
    let chain: Vec<CertificateDer<'static>> = [asset("server.pem"), asset("ca.pem")]
        .iter()
        .map(|p| CertificateDer::from_pem_file(p).expect("the bench's certificates"))
        .collect();
    let key = PrivateKeyDer::from_pem_file(asset("server.key")).expect("the bench's key");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("a valid chain and key");
    Arc::new(config)
}

fn client(provider: CryptoProvider) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(asset("ca.pem")).expect("the bench's root"))
        .expect("a valid root");
    let config = ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// Moves what `from` has to send into `to`, and lets `to` process it.
fn deliver(
    from: &mut dyn FnMut(&mut Vec<u8>) -> usize,
    to: &mut dyn FnMut(&[u8]),
    buffer: &mut Vec<u8>,
) -> bool {
    buffer.clear();
    if from(buffer) == 0 {
        return false;
    }
    to(buffer);
    true
}

/// One full handshake; answers the client's time and the key exchange group agreed.
fn handshake(
    client_config: &Arc<ClientConfig>,
    server_config: &Arc<ServerConfig>,
) -> (Duration, String) {
    let name = ServerName::try_from(SERVER_NAME).expect("a DNS name");
    let mut spent = Duration::ZERO;
    let started = Instant::now();
    let mut client = ClientConnection::new(client_config.clone(), name).expect("a client");
    spent += started.elapsed();
    let mut server = ServerConnection::new(server_config.clone()).expect("a server");
    let mut buffer = Vec::with_capacity(16 * 1024);
    while client.is_handshaking() || server.is_handshaking() {
        let mut moved = false;
        // Client → server: the client's writing is its own work.
        moved |= deliver(
            &mut |out| {
                let started = Instant::now();
                let n = client.write_tls(out).expect("write");
                spent += started.elapsed();
                n
            },
            &mut |bytes| {
                server.read_tls(&mut &bytes[..]).expect("read");
                server.process_new_packets().expect("the server accepts");
            },
            &mut buffer,
        );
        // Server → client: the client's reading and processing are its own work.
        moved |= deliver(
            &mut |out| server.write_tls(out).expect("write"),
            &mut |bytes| {
                let started = Instant::now();
                client.read_tls(&mut &bytes[..]).expect("read");
                client.process_new_packets().expect("the client accepts");
                spent += started.elapsed();
            },
            &mut buffer,
        );
        assert!(moved, "a handshake stalled");
    }
    let group = client
        .negotiated_key_exchange_group()
        .map(|g| format!("{:?}", g.name()))
        .unwrap_or_default();
    (spent, group)
}

fn main() {
    let n = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000);
    handshakes(n);
    println!();
    token_checks(n);
    println!();
    ca_bundle();
}

/// What an HTTP function's init spends on the system's CA bundle for its JWKS reader:
/// hyper-rustls's `with_native_roots` reads and parses it, then builds the trust anchors. The
/// first load is shown apart (the page cache may be cold); the rest are 50 more.
fn ca_bundle() {
    let load = || {
        let loaded = rustls_native_certs::load_native_certs();
        let mut roots = rustls::RootCertStore::empty();
        let (valid, _) = roots.add_parsable_certificates(loaded.certs);
        valid
    };
    let started = Instant::now();
    let certificates = load();
    let first = started.elapsed();
    let [median, p90, _] = quantiles(
        (0..50)
            .map(|_| {
                let started = Instant::now();
                load();
                started.elapsed()
            })
            .collect(),
    );
    println!(
        "system CA bundle into trust anchors ({certificates} certificates): first {:.0} µs, \
         then median {median:.0} µs, p90 {p90:.0} µs",
        first.as_secs_f64() * 1e6
    );
}

/// Median, p90 and p99 of `times`, in µs.
fn quantiles(mut times: Vec<Duration>) -> [f64; 3] {
    times.sort();
    let at = |q: f64| times[((times.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e6;
    [at(0.5), at(0.9), at(0.99)]
}

fn timed(n: usize, mut check: impl FnMut()) -> [f64; 3] {
    check();
    quantiles(
        (0..n)
            .map(|_| {
                let started = Instant::now();
                check();
                started.elapsed()
            })
            .collect(),
    )
}

fn token_checks(n: usize) {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{self, KeyPair};
    use p256::ecdsa::signature::Verifier;
    use rsa::pkcs1::DecodeRsaPublicKey;
    use sha2::Digest;

    // A token's signing input: header.payload, as long as the provider's tokens here.
    let message = vec![b'a'; 420];
    let random = SystemRandom::new();

    let es256 = signature::EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
        .expect("a P-256 key");
    let es256_signature = es256.sign(&random, &message).expect("signed");
    let es256_public = es256.public_key().as_ref().to_vec();

    let rs256 =
        aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("an RSA key");
    let mut rs256_signature = vec![0; rs256.public_modulus_len()];
    rs256
        .sign(
            &signature::RSA_PKCS1_SHA256,
            &random,
            &message,
            &mut rs256_signature,
        )
        .expect("signed");
    let rs256_public = rs256.public_key().as_ref().to_vec();

    println!("| token signature | library | checks | per check, median | p90 | p99 |");
    println!("|---|---|---:|---:|---:|---:|");
    let row = |alg: &str, library: &str, [p50, p90, p99]: [f64; 3]| {
        println!("| {alg} | {library} | {n} | {p50:.0} µs | {p90:.0} µs | {p99:.0} µs |");
    };
    row(
        "ES256",
        "aws-lc-rs",
        timed(n, || {
            signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &es256_public)
                .verify(&message, es256_signature.as_ref())
                .expect("valid");
        }),
    );
    row(
        "ES256",
        "RustCrypto (p256)",
        timed(n, || {
            let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&es256_public).expect("a key");
            let sig =
                p256::ecdsa::Signature::from_slice(es256_signature.as_ref()).expect("a signature");
            key.verify(&message, &sig).expect("valid");
        }),
    );
    row(
        "RS256",
        "aws-lc-rs",
        timed(n, || {
            signature::UnparsedPublicKey::new(
                &signature::RSA_PKCS1_2048_8192_SHA256,
                &rs256_public,
            )
            .verify(&message, &rs256_signature)
            .expect("valid");
        }),
    );
    row(
        "RS256",
        "RustCrypto (rsa)",
        timed(n, || {
            let key = rsa::RsaPublicKey::from_pkcs1_der(&rs256_public).expect("a key");
            let digest = sha2::Sha256::digest(&message);
            key.verify(
                rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
                &digest,
                &rs256_signature,
            )
            .expect("valid");
        }),
    );
}

fn handshakes(handshakes: usize) {
    let server = server();
    println!(
        "| client provider | key exchange | handshakes | client CPU per handshake, median | p90 | p99 |"
    );
    println!("|---|---|---:|---:|---:|---:|");
    for (name, provider) in [
        (
            "aws-lc-rs (SDK default)",
            rustls::crypto::aws_lc_rs::default_provider(),
        ),
        (
            "aws-lc-rs without post-quantum",
            CryptoProvider {
                kx_groups: vec![rustls::crypto::aws_lc_rs::kx_group::X25519],
                ..rustls::crypto::aws_lc_rs::default_provider()
            },
        ),
        ("ring", rustls::crypto::ring::default_provider()),
    ] {
        let client = client(provider);
        // A warm-up handshake, not counted (it also names the group agreed).
        let (_, group) = handshake(&client, &server);
        let times = (0..handshakes)
            .map(|_| handshake(&client, &server).0)
            .collect();
        let [p50, p90, p99] = quantiles(times);
        println!("| {name} | {group} | {handshakes} | {p50:.0} µs | {p90:.0} µs | {p99:.0} µs |");
    }
}
