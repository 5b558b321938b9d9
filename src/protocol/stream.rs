//! Encoding a streamed search reply ([`SearchStream`]) in pieces: the items batch by batch as
//! they are rendered, and the framing around them once the number of items written is final.
//!
//! The bytes are exactly those the plain encoders (`resp`, `json`) write for a
//! [`super::SearchReply`] holding the same items. Owns the framing of streamed replies only:
//! it must not know sockets, spools or the store.
//!
//! - RESP2/RESP3: the array header carries the item count, so the items are encoded first (the
//!   connection spools them) and [`StreamEncoder::close`] gives the header to write before them.
//! - JSON on a RESP connection (`OUTPUT json`): a bulk string whose length comes first, so the
//!   same: spooled, then `$len\r\n` and the JSON head before, the JSON tail after.
//! - JSON over HTTP: Tile38 puts `count` and `cursor` after the items, so the head is written
//!   at once ([`StreamEncoder::open`]), the items as they come, and the tail at the end
//!   (chunked transfer encoding: no Content-Length).

use std::time::Duration;

use bytes::{BufMut, BytesMut};

use super::json::{write_reply_end, write_search_end, write_search_head, write_search_item};
use super::resp::{encode_search_header, encode_search_items, RespVersion};
use super::{SearchItem, SearchOutput, SearchReply};

/// How a streamed reply is framed on its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// A RESP array (RESP2 or RESP3).
    Resp(RespVersion),
    /// Tile38 JSON inside a RESP bulk string (`OUTPUT json` on a RESP connection).
    JsonInResp,
    /// Tile38 JSON as an HTTP body (newline-terminated, like `encode_http_body`).
    Http,
}

/// Encodes one streamed search reply.
#[derive(Debug)]
pub struct StreamEncoder {
    framing: Framing,
    output: SearchOutput,
    names: Vec<String>,
    written: u64,
    text: String,
}

impl StreamEncoder {
    /// An encoder for a reply with the output kind and field names of `head`.
    pub fn new(framing: Framing, head: &SearchReply) -> StreamEncoder {
        StreamEncoder {
            framing,
            output: head.output,
            names: head.field_names.clone(),
            written: 0,
            text: String::new(),
        }
    }

    /// The bytes before any item for HTTP (the JSON head); empty for the other framings,
    /// whose head comes from [`StreamEncoder::close`].
    pub fn open(&self) -> Vec<u8> {
        if self.framing != Framing::Http {
            return Vec::new();
        }
        let mut text = String::new();
        write_search_head(self.output, &self.names, &mut text);
        text.into_bytes()
    }

    /// Appends the encoding of `items` to `out`.
    pub fn items(&mut self, items: &[SearchItem], out: &mut BytesMut) {
        match self.framing {
            Framing::Resp(v) => encode_search_items(self.output, &self.names, items, v, out),
            Framing::JsonInResp | Framing::Http => {
                for item in items {
                    self.text.clear();
                    let first = self.written == 0;
                    write_search_item(self.output, &self.names, item, first, &mut self.text);
                    out.put_slice(self.text.as_bytes());
                    self.written += 1;
                }
                return;
            }
        }
        self.written += items.len() as u64;
    }

    /// The bytes to write before the items (given `body_len`, the bytes they took) and
    /// after them, once every item is encoded. For HTTP the first part is empty: the head
    /// went out with [`StreamEncoder::open`].
    pub fn close(&self, cursor: u64, body_len: u64, elapsed: Duration) -> (Vec<u8>, Vec<u8>) {
        let mut tail = String::new();
        write_search_end(self.output, self.written, cursor, &mut tail);
        write_reply_end(elapsed, &mut tail);
        match self.framing {
            Framing::Resp(_) => {
                let mut head = BytesMut::new();
                encode_search_header(cursor, self.written as usize, &mut head);
                (head.to_vec(), Vec::new())
            }
            Framing::JsonInResp => {
                let mut json_head = String::new();
                write_search_head(self.output, &self.names, &mut json_head);
                let len = json_head.len() as u64 + body_len + tail.len() as u64;
                let mut head = format!("${len}\r\n").into_bytes();
                head.extend_from_slice(json_head.as_bytes());
                tail.push_str("\r\n");
                (head, tail.into_bytes())
            }
            Framing::Http => {
                tail.push_str("\r\n");
                (Vec::new(), tail.into_bytes())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{encode_for_connection, encode_http_body, ItemBody, OutputFormat, Reply};
    use super::*;
    use crate::protocol::Value;

    fn items(n: usize, output: SearchOutput) -> Vec<SearchItem> {
        (0..n)
            .map(|i| SearchItem {
                id: format!("id{i}").into(),
                body: match output {
                    SearchOutput::Ids => ItemBody::None,
                    SearchOutput::Points => ItemBody::Point {
                        lat: i as f64 / 3.0,
                        lon: -1.5,
                        z: (i % 2 == 0).then_some(2.0),
                    },
                    _ => ItemBody::Object {
                        json: format!("{{\"type\":\"Point\",\"coordinates\":[{i},1]}}"),
                        is_string: false,
                    },
                },
                fields: vec![Value::Float(i as f64), Value::Null],
                distance: (i % 3 == 0).then_some(i as f64 * 1.25),
            })
            .collect()
    }

    /// Streams `all` in batches of `batch` and returns the whole reply's bytes.
    fn streamed(framing: Framing, head: &SearchReply, all: &[SearchItem], batch: usize) -> Vec<u8> {
        let mut enc = StreamEncoder::new(framing, head);
        let mut wire = enc.open();
        let mut body = BytesMut::new();
        for chunk in all.chunks(batch.max(1)) {
            enc.items(chunk, &mut body);
        }
        let (before, after) = enc.close(head.cursor, body.len() as u64, Duration::from_micros(27));
        let mut out = before;
        out.append(&mut wire);
        out.extend_from_slice(&body);
        out.extend_from_slice(&after);
        out
    }

    fn whole(framing: Framing, reply: &SearchReply) -> Vec<u8> {
        let elapsed = Duration::from_micros(27);
        let r = Reply::Search(Box::new(reply.clone()));
        let mut out = BytesMut::new();
        match framing {
            Framing::Resp(v) => encode_for_connection(
                &r,
                OutputFormat::Resp,
                v == RespVersion::V3,
                elapsed,
                &mut out,
            ),
            Framing::JsonInResp => {
                encode_for_connection(&r, OutputFormat::Json, false, elapsed, &mut out)
            }
            Framing::Http => out.put_slice(encode_http_body(&r, elapsed).as_bytes()),
        }
        out.to_vec()
    }

    #[test]
    fn pieces_are_byte_identical_to_the_whole_reply() {
        let framings = [
            Framing::Resp(RespVersion::V2),
            Framing::Resp(RespVersion::V3),
            Framing::JsonInResp,
            Framing::Http,
        ];
        let outputs = [
            SearchOutput::Ids,
            SearchOutput::Objects,
            SearchOutput::Points,
        ];
        for framing in framings {
            for output in outputs {
                for names in [vec![], vec!["speed".to_string(), "age".to_string()]] {
                    for n in [0, 1, 2, 7] {
                        let all = items(n, output);
                        let reply = SearchReply {
                            output,
                            field_names: names.clone(),
                            items: all.clone(),
                            count: n as u64,
                            cursor: 42,
                        };
                        for batch in [1, 2, 3, 100] {
                            assert_eq!(
                                String::from_utf8(streamed(framing, &reply, &all, batch)),
                                String::from_utf8(whole(framing, &reply)),
                                "{framing:?} {output:?} {names:?} n={n} batch={batch}"
                            );
                        }
                    }
                }
            }
        }
    }
}
