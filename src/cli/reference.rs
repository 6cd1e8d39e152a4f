//! `labrun ref`: one of the lab's programs run by hand, on the host, printing as the C
//! program would.

use std::time::Duration;

use super::args::{ClientArgs, RefCommand, ServerArgs};
use crate::actor::{RefParams, RefProgram, run_standalone};
use crate::session::{Error, Summary};

/// The program asked for, run until it ends, with the exit status it gives.
pub(crate) fn run_ref(command: RefCommand) -> Result<Summary, Error> {
    let server = |program, a: ServerArgs| {
        let params = RefParams {
            id: a.id,
            host: "0.0.0.0".into(),
            port: a.port,
            exchanges: a.exchanges,
            reply_delay: a.reply_delay,
            close_delay: a.close_delay,
            pause: Duration::ZERO,
        };
        run_standalone(program, params)
    };
    let client = |program, a: ClientArgs| {
        let params = RefParams {
            id: a.id,
            host: a.host,
            port: a.port,
            exchanges: a.exchanges,
            reply_delay: Duration::ZERO,
            close_delay: Duration::ZERO,
            pause: a.pause,
        };
        run_standalone(program, params)
    };
    let status = match command {
        RefCommand::UdpServer(a) => server(RefProgram::UdpServer, a),
        RefCommand::TcpServer(a) => server(RefProgram::TcpServer, a),
        RefCommand::UdpClient(a) => client(RefProgram::UdpClient, a),
        RefCommand::TcpClient(a) => client(RefProgram::TcpClient, a),
        RefCommand::ResolveName { name } => {
            Ok(resolve_standalone(crate::scenario::Lookup::Name, &name))
        }
        RefCommand::ResolveAddr { addr } => {
            Ok(resolve_standalone(crate::scenario::Lookup::Address, &addr))
        }
    }
    .map_err(Error::Runtime)?;
    Ok(Summary::Program { status })
}

fn resolve_standalone(lookup: crate::scenario::Lookup, query: &str) -> i32 {
    let (lines, code) = crate::actor::resolver::run(lookup, query, None);
    for (stdout, line) in lines {
        if stdout {
            say!("{line}");
        } else {
            tell!("{line}");
        }
    }
    code
}
