//! The AOF's byte format: canonical commands as RESP arrays of bulk strings, and the
//! `MERIDIAN.STREAM` record that ties the file to a replication position.
//!
//! `*4 MERIDIAN.STREAM 1 <replid> <offset>` means: the replication stream `<replid>` is at
//! `<offset>` right after this record, and every following command advances it by its own
//! encoded length in bytes. A file written by Tile38 has no such record; its commands are
//! replayed but not counted as stream bytes.

use bytes::Bytes;

/// The name of the position record.
pub const STREAM_RECORD: &str = "MERIDIAN.STREAM";

/// The format version written in position records.
pub const FORMAT_VERSION: &str = "1";

/// Appends one command as a RESP array of bulk strings.
pub fn encode_command<B: AsRef<[u8]>>(args: &[B], out: &mut Vec<u8>) {
    out.push(b'*');
    out.extend_from_slice(args.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in args {
        let a = a.as_ref();
        out.push(b'$');
        out.extend_from_slice(a.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// The encoded position record.
pub fn stream_record(repl_id: &str, offset: u64) -> Vec<u8> {
    let mut out = Vec::new();
    let args = [
        Bytes::from_static(STREAM_RECORD.as_bytes()),
        Bytes::from_static(FORMAT_VERSION.as_bytes()),
        Bytes::copy_from_slice(repl_id.as_bytes()),
        Bytes::from(offset.to_string()),
    ];
    encode_command(&args, &mut out);
    out
}

/// A new random replication id: 40 hex characters, as Redis uses.
pub fn new_repl_id() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..20)
        .map(|_| format!("{:02x}", rng.gen::<u8>()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_encode_as_resp_arrays() {
        let mut out = Vec::new();
        encode_command(&["DEL", "fleet", "truck1"], &mut out);
        assert_eq!(out, b"*3\r\n$3\r\nDEL\r\n$5\r\nfleet\r\n$6\r\ntruck1\r\n");
    }

    #[test]
    fn stream_records_name_id_and_offset() {
        let rec = stream_record("abc", 42);
        assert_eq!(
            rec,
            b"*4\r\n$15\r\nMERIDIAN.STREAM\r\n$1\r\n1\r\n$3\r\nabc\r\n$2\r\n42\r\n".to_vec()
        );
        assert_eq!(new_repl_id().len(), 40);
    }
}
