//! Starts `scripts/moto_server.py` from the project's virtualenv. The server lives as long as
//! this handle: it reads its stdin until EOF, and the pipe closes when this process ends.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};

pub struct MotoServer {
    pub endpoint: String,
    _child: Child,
    _stdin: ChildStdin,
}

#[derive(Debug)]
pub struct MotoError(pub String);

impl std::fmt::Display for MotoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "could not start moto's server: {} (run `make venv` first)",
            self.0
        )
    }
}

impl std::error::Error for MotoError {}

impl MotoServer {
    /// Starts a server on `port` (0: any free port) and waits until it answers.
    pub fn start(port: u16) -> Result<Self, MotoError> {
        let root = super::repo_root();
        let python = root.join(".venv/bin/python");
        let mut child = Command::new(&python)
            .arg(root.join("scripts/moto_server.py"))
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| MotoError(format!("{}: {e}", python.display())))?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| MotoError("no stdin".into()))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| MotoError("no stdout".into()))?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| MotoError(e.to_string()))?;
        let endpoint = line.trim().to_string();
        if !endpoint.starts_with("http://") {
            return Err(MotoError(format!("unexpected first line {endpoint:?}")));
        }
        Ok(Self {
            endpoint,
            _child: child,
            _stdin: stdin,
        })
    }
}
