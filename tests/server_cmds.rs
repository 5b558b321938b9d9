//! Server, connection and auth commands over RESP against the real binary: SERVER, INFO,
//! HEALTHZ, GC, DIGEST, CONFIG GET/SET/REWRITE (surviving a restart), READONLY, PING/ECHO/QUIT
//! and AUTH with requirepass, with exact reply bytes and Tile38's error texts.

mod common;

use common::*;
use redis::Value;

#[test]
fn server_reports_its_statistics() {
    let s = TestServer::start();
    let mut c = s.wire();
    assert_eq!(c.cmd(&["SET", "fleet", "a", "POINT", "1", "2"]), OK);
    assert_eq!(c.cmd(&["SET", "fleet", "b", "STRING", "x"]), OK);
    let mut con = s.redis();
    let Value::Array(items) = q(&mut con, &["SERVER"]) else {
        panic!("SERVER is not an array");
    };
    let pairs: Vec<(String, Value)> = items
        .chunks(2)
        .map(|kv| match &kv[0] {
            Value::BulkString(n) => (String::from_utf8(n.clone()).unwrap(), kv[1].clone()),
            other => panic!("field name {other:?}"),
        })
        .collect();
    let names: Vec<&str> = pairs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "id",
            "aof_size",
            "avg_item_size",
            "cpus",
            "http_transport",
            "in_memory_size",
            "mem_alloc",
            "num_collections",
            "num_hooks",
            "num_objects",
            "num_points",
            "num_strings",
            "pid",
            "pointer_size",
            "read_only",
            "repl_id",
            "repl_offset",
            "uptime_in_seconds",
            "version",
        ]
    );
    let get = |name: &str| pairs.iter().find(|(n, _)| n == name).unwrap().1.clone();
    for name in names
        .iter()
        .filter(|n| !["id", "repl_id", "version"].contains(n))
    {
        assert!(
            matches!(get(name), Value::Int(n) if n >= 0),
            "{name}: {:?}",
            get(name)
        );
    }
    let Value::BulkString(id) = get("id") else {
        panic!("id");
    };
    assert!(id.len() == 16 && id.iter().all(u8::is_ascii_hexdigit));
    assert!(matches!(get("version"), Value::BulkString(v) if !v.is_empty()));
    assert_eq!(get("num_collections"), Value::Int(1));
    assert_eq!(get("num_objects"), Value::Int(2));
    assert_eq!(get("num_strings"), Value::Int(1));
    assert_eq!(get("http_transport"), Value::Int(1));
    assert_eq!(get("read_only"), Value::Int(0));
    assert_eq!(get("pointer_size"), Value::Int(8));
    assert!(matches!(get("aof_size"), Value::Int(n) if n > 0));
    assert_eq!(get("pid"), Value::Int(i64::from(s.pid().unwrap())));
    // SERVER EXT is accepted too.
    assert!(c.cmd(&["SERVER", "EXT"]).starts_with("*38\r\n$2\r\nid\r\n"));
    assert_eq!(c.cmd(&["SERVER", "x"]), err("invalid argument 'x'"));
}

#[test]
fn info_healthz_gc() {
    let s = TestServer::start();
    let mut c = s.wire();
    assert_eq!(c.cmd(&["SET", "fleet", "a", "POINT", "1", "2"]), OK);
    assert_eq!(c.cmd(&["SET", "fleet", "b", "POINT", "1", "2"]), OK);
    let info = unbulk(&c.cmd(&["INFO"]));
    let sections: Vec<&str> = info.lines().filter(|l| l.starts_with("# ")).collect();
    assert_eq!(
        sections,
        [
            "# Server",
            "# Clients",
            "# Memory",
            "# Persistence",
            "# Stats",
            "# Replication",
            "# Keyspace"
        ]
    );
    assert!(
        info.contains("# Persistence\r\nloading:0\r\naof_enabled:1\r\n"),
        "{info}"
    );
    assert!(
        info.contains("# Replication\r\nrole:master\r\nconnected_slaves:0\r\n"),
        "{info}"
    );
    assert!(info.contains("\r\ntcp_port:"), "{info}");
    // Every line of a section is name:value.
    for line in info
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        assert!(line.split_once(':').is_some(), "{line:?}");
    }
    let persistence = unbulk(&c.cmd(&["INFO", "persistence"]));
    assert!(persistence.starts_with("# Persistence\r\nloading:0\r\naof_enabled:1\r\n"));
    assert_eq!(persistence.matches("# ").count(), 1, "{persistence}");
    assert_eq!(
        unbulk(&c.cmd(&["INFO", "keyspace"])),
        "# Keyspace\r\nnum_collections:1\r\nnum_objects:2\r\n"
    );
    let two = unbulk(&c.cmd(&["INFO", "server", "replication"]));
    assert!(two.starts_with("# Server\r\n") && two.contains("\r\n\r\n# Replication\r\n"));
    // With the AOF off, INFO says so.
    let off = TestServer::start_with(&["--appendonly", "no"]);
    let info = unbulk(&off.wire().cmd(&["INFO", "persistence"]));
    assert!(info.contains("aof_enabled:0\r\n"), "{info}");

    assert_eq!(c.cmd(&["HEALTHZ"]), OK);
    assert_eq!(
        c.cmd(&["HEALTHZ", "x"]),
        err("wrong number of arguments for 'healthz' command")
    );
    assert_eq!(c.cmd(&["GC"]), OK);
    assert_eq!(
        c.cmd(&["GC", "now"]),
        err("wrong number of arguments for 'gc' command")
    );
}

#[test]
fn digest_follows_the_data_not_the_history() {
    let one = TestServer::start();
    let two = TestServer::start();
    let (mut a, mut b) = (one.wire(), two.wire());
    // The same data set built in different orders, with detours, on two servers.
    for args in [
        &[
            "SET", "fleet", "t1", "FIELD", "speed", "5", "POINT", "33", "-112",
        ][..],
        &[
            "SET",
            "fleet",
            "t2",
            "OBJECT",
            r#"{"type":"LineString","coordinates":[[1,2],[3,4]]}"#,
        ],
        &["SET", "people", "p", "STRING", "hi"],
    ] {
        assert_eq!(a.cmd(args), OK);
    }
    for args in [
        &["SET", "people", "p", "STRING", "hi"][..],
        &[
            "SET",
            "fleet",
            "t2",
            "OBJECT",
            r#"{ "type": "LineString", "coordinates": [[1,2],[3,4]] }"#,
        ],
        &["SET", "fleet", "tmp", "POINT", "1", "1"],
        &[
            "SET", "fleet", "t1", "FIELD", "speed", "7", "POINT", "0", "0",
        ],
        &[
            "SET", "fleet", "t1", "FIELD", "speed", "5", "POINT", "33", "-112",
        ],
        &["SET", "gone", "g", "POINT", "1", "1"],
    ] {
        assert_eq!(b.cmd(args), OK);
    }
    assert_eq!(b.cmd(&["DEL", "fleet", "tmp"]), int(1));
    assert_eq!(b.cmd(&["DROP", "gone"]), int(1));
    let digest = |c: &mut WireConn, args: &[&str]| {
        let reply = c.cmd(args);
        // [name, value, ...]: the value after the first name.
        reply.split("\r\n").nth(4).unwrap().to_string()
    };
    let d1 = digest(&mut a, &["DIGEST"]);
    assert_eq!(d1.len(), 16, "{d1}");
    assert_eq!(digest(&mut b, &["DIGEST"]), d1);
    assert_eq!(
        digest(&mut a, &["DIGEST", "fleet"]),
        digest(&mut b, &["DIGEST", "fleet"])
    );
    assert_ne!(
        digest(&mut a, &["DIGEST", "fleet"]),
        digest(&mut a, &["DIGEST", "people"])
    );
    // Any change alters it: a coordinate, a field, a string, an expiry; undoing restores it.
    for (change, undo) in [
        (
            &[
                "SET", "fleet", "t1", "FIELD", "speed", "5", "POINT", "33", "-112.1",
            ][..],
            &[
                "SET", "fleet", "t1", "FIELD", "speed", "5", "POINT", "33", "-112",
            ][..],
        ),
        (
            &["FSET", "fleet", "t1", "speed", "6"],
            &["FSET", "fleet", "t1", "speed", "5"],
        ),
        (
            &["SET", "people", "p", "STRING", "ho"],
            &["SET", "people", "p", "STRING", "hi"],
        ),
        (
            &["EXPIRE", "people", "p", "1000"],
            &["PERSIST", "people", "p"],
        ),
        (
            &["SET", "extra", "e", "POINT", "1", "1"],
            &["DROP", "extra"],
        ),
    ] {
        b.cmd(change);
        assert_ne!(digest(&mut b, &["DIGEST"]), d1, "{change:?}");
        b.cmd(undo);
        assert_eq!(digest(&mut b, &["DIGEST"]), d1, "{undo:?}");
    }
    // Shape: digest, counts, then the replication position.
    let reply = a.cmd(&["DIGEST"]);
    assert!(
        reply.starts_with("*10\r\n$6\r\ndigest\r\n$16\r\n"),
        "{reply}"
    );
    assert!(
        reply.contains(concat!(
            "\r\n$15\r\nnum_collections\r\n:2\r\n$11\r\nnum_objects\r\n:3\r\n",
            "$7\r\nrepl_id\r\n$40\r\n"
        )),
        "{reply}"
    );
    assert!(reply.contains("\r\n$11\r\nrepl_offset\r\n:"), "{reply}");
    assert!(a
        .cmd(&["DIGEST", "nokey"])
        .starts_with("*6\r\n$5\r\nnokey\r\n$-1\r\n"));
}

/// Threads of a process whose name starts with `prefix` (tokio names its workers).
fn threads_named(pid: u32, prefix: &str) -> usize {
    let dir = std::fs::read_dir(format!("/proc/{pid}/task")).unwrap();
    dir.filter(|t| {
        let comm = t.as_ref().unwrap().path().join("comm");
        std::fs::read_to_string(comm).is_ok_and(|c| c.starts_with(prefix))
    })
    .count()
}

#[test]
fn threads_is_startup_config_shown_in_info() {
    let s = TestServer::start();
    let mut c = s.wire();
    let cores = std::thread::available_parallelism().unwrap().get();
    let server = unbulk(&c.cmd(&["INFO", "server"]));
    assert!(
        server.contains(&format!("\r\nthreads:{cores}\r\n")),
        "{server}"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "threads"]),
        arr(&[b("threads"), b("0")])
    );
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "threads", "3"]),
        err("'threads' cannot be changed at run time: set it in the config file and restart")
    );
    let many = (cores + 3).to_string();
    let mut env = TestServer::spawn_env(&s.dir.join("env"), &[], &[("MERIDIAN_THREADS", &many)]);
    env.wait_ready();
    let server = unbulk(&env.wire().cmd(&["INFO", "server"]));
    assert!(
        server.contains(&format!("\r\nthreads:{many}\r\n")),
        "{server}"
    );
    // One thread per connection loop (the main runtime's workers are named otherwise).
    let named = threads_named(env.pid().unwrap(), "conn-loop-");
    assert_eq!(named, cores + 3, "connection loop threads");
    let info = unbulk(&env.wire().cmd(&["INFO", "clients"]));
    assert!(
        info.contains(&format!("\r\nconnection_loops:{many}\r\n")),
        "{info}"
    );
    assert_eq!(env.stop(), Some(0));
}

#[test]
fn allocator_settings_are_startup_config_shown_in_info() {
    let s = TestServer::start();
    let mut c = s.wire();
    let memory = unbulk(&c.cmd(&["INFO", "memory"]));
    assert!(
        memory.contains("\r\nallocator_thp:0\r\nallocator_purge_delay_ms:100\r\n"),
        "{memory}"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "allocator-purge-delay-ms"]),
        arr(&[b("allocator-purge-delay-ms"), b("100")])
    );
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "allocator-thp", "yes"]),
        err("'allocator-thp' cannot be changed at run time: set it in the config file and restart")
    );
    // The default really switches huge pages off for the process (Linux reports it).
    let pid = s.pid().unwrap();
    if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
        if status.contains("THP_enabled:") {
            assert!(status.contains("THP_enabled:\t0"), "{status}");
        }
    }
    let mut env = TestServer::spawn_env(
        &s.dir.join("env"),
        &[],
        &[
            ("MERIDIAN_ALLOCATOR_THP", "yes"),
            ("MERIDIAN_ALLOCATOR_PURGE_DELAY_MS", "0"),
        ],
    );
    env.wait_ready();
    let memory = unbulk(&env.wire().cmd(&["INFO", "memory"]));
    assert!(
        memory.contains("\r\nallocator_thp:1\r\nallocator_purge_delay_ms:0\r\n"),
        "{memory}"
    );
    let pid = env.pid().unwrap();
    if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
        if status.contains("THP_enabled:") {
            assert!(status.contains("THP_enabled:\t1"), "{status}");
        }
    }
    assert_eq!(env.stop(), Some(0));
}

#[test]
fn config_get_set_rewrite_survives_restart() {
    let mut s = TestServer::start();
    let mut c = s.wire();
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "keepalive"]),
        arr(&[b("keepalive"), b("300")])
    );
    assert_eq!(c.cmd(&["CONFIG", "SET", "keepalive", "120"]), OK);
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "keepalive"]),
        arr(&[b("keepalive"), b("120")])
    );
    assert_eq!(
        c.cmd(&["config", "get", "requirepass"]),
        arr(&[b("requirepass"), b("")])
    );
    assert_eq!(c.cmd(&["CONFIG", "GET", "nosuch"]), "*0\r\n");
    // `*` lists every setting as name/value pairs.
    let all = c.cmd(&["CONFIG", "GET", "*"]);
    let n: usize = all[1..all.find("\r\n").unwrap()].parse().unwrap();
    assert!(n >= 32 && n.is_multiple_of(2), "{all}");
    assert!(
        all.contains("\r\n$9\r\nkeepalive\r\n$3\r\n120\r\n"),
        "{all}"
    );
    assert!(
        all.contains("\r\n$10\r\nappendonly\r\n$3\r\nyes\r\n"),
        "{all}"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "nosuch", "1"]),
        err("Unsupported CONFIG parameter: nosuch")
    );
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "keepalive", "abc"]),
        err("Invalid argument 'abc' for CONFIG SET 'keepalive'")
    );
    assert_eq!(c.cmd(&["CONFIG", "BLAH"]), err("invalid argument 'BLAH'"));
    assert_eq!(
        c.cmd(&["CONFIG"]),
        err("wrong number of arguments for 'config' command")
    );
    // Not written until REWRITE.
    let file = s.dir.join("meridian.toml");
    assert!(!file.exists());
    assert_eq!(c.cmd(&["CONFIG", "REWRITE"]), OK);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("keepalive = 120"), "{text}");
    assert_eq!(s.stop(), Some(0));
    let s2 = TestServer::start_in(&s.dir.clone(), &[]);
    assert_eq!(
        s2.wire().cmd(&["CONFIG", "GET", "keepalive"]),
        arr(&[b("keepalive"), b("120")])
    );
}

#[test]
fn readonly_refuses_writes_and_persists() {
    let mut s = TestServer::start();
    let mut c = s.wire();
    assert_eq!(
        c.cmd(&["SET", "fleet", "a", "FIELD", "f", "1", "POINT", "1", "2"]),
        OK
    );
    assert_eq!(c.cmd(&["READONLY", "yes"]), OK);
    let before = c.cmd(&["DIGEST"]);
    let writes: &[&[&str]] = &[
        &["SET", "fleet", "b", "POINT", "1", "2"],
        &["DEL", "fleet", "a"],
        &["PDEL", "fleet", "*"],
        &["DROP", "fleet"],
        &["FLUSHDB"],
        &["RENAME", "fleet", "x"],
        &["RENAMENX", "fleet", "x"],
        &["FSET", "fleet", "a", "f", "2"],
        &["EXPIRE", "fleet", "a", "10"],
        &["PERSIST", "fleet", "a"],
        &["JSET", "fleet", "a", "x", "1"],
        &["JDEL", "fleet", "a", "x"],
    ];
    for args in writes {
        assert_eq!(c.cmd(args), err("read only"), "{args:?}");
    }
    assert_eq!(c.cmd(&["DIGEST"]), before);
    // Reads still work.
    assert_eq!(c.cmd(&["FGET", "fleet", "a", "f"]), b("1"));
    assert!(c.cmd(&["SERVER"]).contains("$9\r\nread_only\r\n:1\r\n"));
    assert_eq!(
        c.cmd(&["READONLY", "maybe"]),
        err("invalid argument 'maybe'")
    );
    // READONLY is persisted at once.
    assert_eq!(s.stop(), Some(0));
    let mut s2 = TestServer::start_in(&s.dir.clone(), &[]);
    let mut c = s2.wire();
    assert_eq!(
        c.cmd(&["SET", "fleet", "b", "POINT", "1", "2"]),
        err("read only")
    );
    assert_eq!(c.cmd(&["READONLY", "no"]), OK);
    assert_eq!(c.cmd(&["SET", "fleet", "b", "POINT", "1", "2"]), OK);
    assert_eq!(s2.stop(), Some(0));
    let s3 = TestServer::start_in(&s.dir.clone(), &[]);
    assert_eq!(s3.wire().cmd(&["SET", "fleet", "c", "POINT", "1", "2"]), OK);
}

#[test]
fn ping_echo_quit() {
    let s = TestServer::start();
    let mut c = s.wire();
    assert_eq!(c.cmd(&["PING"]), "+PONG\r\n");
    assert_eq!(c.cmd(&["PING", "hi there"]), b("hi there"));
    assert_eq!(c.line("PING"), "+PONG\r\n");
    assert_eq!(c.cmd(&["ECHO", "hi"]), b("hi"));
    assert_eq!(c.line("ECHO \"two words\""), b("two words"));
    assert_eq!(
        c.cmd(&["ECHO"]),
        err("wrong number of arguments for 'echo' command")
    );
    // Pipelined commands are answered in order.
    assert_eq!(
        s.raw(b"PING\r\nECHO a\r\n*1\r\n$4\r\nPING\r\n"),
        "+PONG\r\n$1\r\na\r\n+PONG\r\n"
    );
    // QUIT answers OK and closes; nothing after it runs.
    assert_eq!(s.raw(b"QUIT\r\nSET fleet x POINT 1 2\r\n"), "+OK\r\n");
    assert_eq!(c.cmd(&["EXISTS", "fleet", "x"]), int(0));
    assert_eq!(c.cmd(&["QUIT"]), OK);
    assert!(c.closed_by_server());
    let mut con = s.redis();
    assert_eq!(q(&mut con, &["PING"]), Value::SimpleString("PONG".into()));
    assert_eq!(
        q(&mut con, &["ECHO", "x"]),
        Value::BulkString(b"x".to_vec())
    );
}

#[test]
fn auth_with_requirepass() {
    let s = TestServer::start_with_password("secret");
    let mut c = s.wire();
    for args in [
        &["PING"][..],
        &["GET", "fleet", "a"],
        &["SET", "fleet", "a", "POINT", "1", "2"],
        &["SERVER"],
        &["CONFIG", "GET", "requirepass"],
    ] {
        assert_eq!(c.cmd(args), err("authentication required"), "{args:?}");
    }
    assert_eq!(c.cmd(&["AUTH", "wrong"]), err("invalid password"));
    assert_eq!(c.cmd(&["PING"]), err("authentication required"));
    assert_eq!(c.cmd(&["AUTH", "secret"]), OK);
    assert_eq!(c.cmd(&["PING"]), "+PONG\r\n");
    assert_eq!(c.cmd(&["SET", "fleet", "a", "POINT", "1", "2"]), OK);
    // Another connection must authenticate on its own; AUTH user password works too.
    let mut d = s.wire();
    assert_eq!(
        d.cmd(&["GET", "fleet", "a"]),
        err("authentication required")
    );
    assert_eq!(d.cmd(&["AUTH", "default", "secret"]), OK);
    assert_eq!(
        d.cmd(&["GET", "fleet", "a"]),
        b(r#"{"type":"Point","coordinates":[2,1]}"#)
    );
    // The redis crate with and without the password in the URL.
    let url = format!("redis://:secret@127.0.0.1:{}/", s.port);
    let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
    assert_eq!(q(&mut con, &["EXISTS", "fleet", "a"]), Value::Int(1));
    let url = format!("redis://127.0.0.1:{}/", s.port);
    let e = match redis::Client::open(url).unwrap().get_connection() {
        Ok(mut con) => q_err(&mut con, &["EXISTS", "fleet", "a"]),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("authentication required"), "{e}");
    // The password can be changed at run time.
    assert_eq!(c.cmd(&["CONFIG", "SET", "requirepass", "other"]), OK);
    let mut e2 = s.wire();
    assert_eq!(e2.cmd(&["AUTH", "secret"]), err("invalid password"));
    assert_eq!(e2.cmd(&["AUTH", "other"]), OK);
    // Without requirepass, AUTH is an error.
    let open = TestServer::start();
    assert_eq!(
        open.wire().cmd(&["AUTH", "x"]),
        err("Client sent AUTH, but no password is set")
    );
}
