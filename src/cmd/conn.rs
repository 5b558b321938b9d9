//! Connection commands: PING, ECHO, QUIT, AUTH, OUTPUT, HELLO, CLIENT. They change only the
//! connection's [`Session`].

use super::args::Args;
use super::{Host, Session};
use crate::error::{CmdError, CmdResult};
use crate::protocol::{OutputFormat, Reply, Value};

/// PING [message]
pub fn ping(_host: &dyn Host, _s: &mut Session, a: &mut Args) -> CmdResult<Reply> {
    let msg = if a.is_empty() {
        None
    } else {
        Some(a.next_str()?.to_string())
    };
    a.finish()?;
    Ok(Reply::Pong(msg))
}

/// ECHO message
pub fn echo(_host: &dyn Host, _s: &mut Session, a: &mut Args) -> CmdResult<Reply> {
    // Binary-safe: `redis-cli --pipe` ends its stream with an ECHO of 20 random bytes.
    let msg = a.next_bytes()?;
    a.finish()?;
    Ok(Reply::Named {
        name: "message",
        value: Value::Bytes(msg.to_vec()),
    })
}

/// QUIT
pub fn quit(_host: &dyn Host, s: &mut Session, _a: &mut Args) -> CmdResult<Reply> {
    s.close = true;
    Ok(Reply::Ok)
}

/// AUTH [username] password
pub fn auth(host: &dyn Host, s: &mut Session, a: &mut Args) -> CmdResult<Reply> {
    let first = a.next_str()?;
    let password = if a.is_empty() { first } else { a.next_str()? };
    a.finish()?;
    authenticate(host, s, password)?;
    Ok(Reply::Ok)
}

fn authenticate(host: &dyn Host, s: &mut Session, password: &str) -> CmdResult<()> {
    if !host.requires_auth() {
        return Err(CmdError::Other(
            "Client sent AUTH, but no password is set".into(),
        ));
    }
    if !host.check_password(password) {
        return Err(CmdError::InvalidPassword);
    }
    s.authenticated = true;
    Ok(())
}

/// OUTPUT [json|resp]
pub fn output(_host: &dyn Host, s: &mut Session, a: &mut Args) -> CmdResult<Reply> {
    if a.is_empty() {
        let name = match s.output {
            OutputFormat::Json => "json",
            OutputFormat::Resp => "resp",
        };
        return Ok(Reply::Named {
            name: "output",
            value: Value::Status(name.into()),
        });
    }
    let v = a.next_str()?;
    a.finish()?;
    s.output = match v.to_ascii_lowercase().as_str() {
        "json" => OutputFormat::Json,
        "resp" => OutputFormat::Resp,
        _ => return Err(CmdError::InvalidArg(v.into())),
    };
    Ok(Reply::Ok)
}

/// HELLO [2|3] [AUTH username password] [SETNAME name]
pub fn hello(host: &dyn Host, s: &mut Session, a: &mut Args) -> CmdResult<Reply> {
    let mut proto = if s.resp3 { 3 } else { 2 };
    if !a.is_empty() {
        let v = a.next_str()?;
        proto = match v {
            "2" => 2,
            "3" => 3,
            _ => {
                return Err(CmdError::Other(
                    "NOPROTO unsupported protocol version".into(),
                ))
            }
        };
    }
    while !a.is_empty() {
        if a.eat("AUTH") {
            let _user = a.next_str()?;
            let password = a.next_str()?;
            authenticate(host, s, password)?;
        } else if a.eat("SETNAME") {
            s.name = Some(a.next_str()?.to_string());
        } else {
            return Err(CmdError::InvalidArg(a.next_str()?.into()));
        }
    }
    s.resp3 = proto == 3;
    let info = host.info();
    Ok(Reply::Hello(vec![
        ("server".into(), Value::Str("meridian".into())),
        ("version".into(), Value::Str(info.version.into())),
        ("proto".into(), Value::Int(proto)),
        ("id".into(), Value::Int(0)),
        ("mode".into(), Value::Str("standalone".into())),
        ("role".into(), Value::Str("master".into())),
        ("modules".into(), Value::List(Vec::new())),
    ]))
}

/// CLIENT SETNAME name | GETNAME | SETINFO attr value | ID
pub fn client(_host: &dyn Host, s: &mut Session, a: &mut Args) -> CmdResult<Reply> {
    let sub = a.next_str()?;
    match sub.to_ascii_uppercase().as_str() {
        "SETNAME" => {
            s.name = Some(a.next_str()?.to_string());
            a.finish()?;
            Ok(Reply::Ok)
        }
        "GETNAME" => {
            a.finish()?;
            Ok(Reply::Named {
                name: "name",
                value: s.name.clone().map_or(Value::Null, Value::Str),
            })
        }
        "SETINFO" => {
            a.next_str()?;
            a.next_str()?;
            a.finish()?;
            Ok(Reply::Ok)
        }
        _ => Err(CmdError::InvalidArg(sub.into())),
    }
}
