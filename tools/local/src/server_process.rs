//! Servers the local stack runs as child processes: moto's (`scripts/moto_server.py`, from the
//! project's virtualenv) and, for the benchmarks, the local DynamoDB engine. Each prints its
//! endpoint on its first line of stdout and serves until its stdin closes, so it lives as long
//! as its handle: the pipe closes when this process ends, for any reason, and no orphan is left.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};

/// A server in a child process.
pub struct ServerProcess {
    pub endpoint: String,
    _child: Child,
    _stdin: ChildStdin,
}

/// moto's server.
pub type MotoServer = ServerProcess;

#[derive(Debug)]
pub struct ServerError(pub String);

impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "could not start a local server: {}", self.0)
    }
}

impl std::error::Error for ServerError {}

impl ServerProcess {
    /// Starts moto's server on `port` (0: any free port) and waits until it answers.
    pub fn start(port: u16) -> Result<Self, ServerError> {
        let root = super::repo_root();
        let python = root.join(".venv/bin/python");
        let mut command = Command::new(&python);
        command
            .arg(root.join("scripts/moto_server.py"))
            .arg(port.to_string());
        Self::spawn(command).map_err(|e| ServerError(format!("moto ({e}; run `make venv` first)")))
    }

    /// Runs `command` and waits for the endpoint on its first line.
    pub fn spawn(mut command: Command) -> Result<Self, ServerError> {
        let program = command.get_program().to_string_lossy().into_owned();
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| ServerError(format!("{program}: {e}")))?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| ServerError("no stdin".into()))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| ServerError("no stdout".into()))?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| ServerError(e.to_string()))?;
        let endpoint = line.trim().to_string();
        if !endpoint.starts_with("http://") {
            return Err(ServerError(format!(
                "{program}: unexpected first line {endpoint:?}"
            )));
        }
        Ok(Self {
            endpoint,
            _child: child,
            _stdin: stdin,
        })
    }
}
