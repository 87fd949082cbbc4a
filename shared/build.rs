//! Writes the compiled-in web PKI roots as one PEM bundle at build time, so a Lambda cold
//! start hands them to the TLS stack without converting anything.

use std::io::Write;

fn main() {
    use base64::Engine;
    let out =
        std::path::PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("roots.pem");
    let mut pem = Vec::new();
    for cert in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        let b64 = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
        writeln!(pem, "-----BEGIN CERTIFICATE-----").unwrap();
        for line in b64.as_bytes().chunks(64) {
            pem.extend_from_slice(line);
            pem.push(b'\n');
        }
        writeln!(pem, "-----END CERTIFICATE-----").unwrap();
    }
    std::fs::write(out, pem).expect("write roots.pem");
    println!("cargo:rerun-if-changed=build.rs");
}
