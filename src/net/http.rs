//! HTTP connections on the shared port (hyper): `GET /SET+fleet+truck1+POINT+33+-115` or
//! `POST /` with the command as body; replies are Tile38 JSON with an HTTP status that says
//! whether the command succeeded (Tile38 always answers 200). Replies have a Content-Length,
//! except streamed search replies, which use chunked transfer encoding: their JSON head goes
//! out before the items are rendered and the count comes after them (`super::stream`).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{BodyExt, Either, Full, Limited};
use hyper::body::{Frame, Incoming};
use hyper::{Request as HttpRequest, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::cmd::Session;
use crate::exec::{Origin, Server};
use crate::protocol::{encode_http_body, http_request_args, OutputFormat, Reply, Request};

/// Serves HTTP/1.1 requests on one connection.
pub async fn serve(server: Arc<Server>, stream: TcpStream) {
    let service = hyper::service::service_fn(move |req| {
        let server = server.clone();
        async move { Ok::<_, Infallible>(handle(server, req).await) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

/// A response body: one piece, or the pieces of a streamed search.
type Body = Either<Full<Bytes>, ChannelBody>;

/// A body read from a channel a producer task fills (chunked: its size is unknown).
pub struct ChannelBody(tokio::sync::mpsc::Receiver<Bytes>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0
            .poll_recv(cx)
            .map(|piece| piece.map(|b| Ok(Frame::data(b))))
    }
}

async fn handle(server: Arc<Server>, req: HttpRequest<Incoming>) -> Response<Body> {
    let started = Instant::now();
    let limit = server.config().proto_max_bulk_len as usize;
    let password = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.strip_prefix("Bearer ").unwrap_or(v).to_string());
    let path = req.uri().path().to_string();
    let body = match Limited::new(req.into_body(), limit).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return respond(&Reply::Error("request body too large".into()), started),
    };
    let Ok(body) = std::str::from_utf8(&body) else {
        return respond(
            &Reply::Error("invalid argument: body is not UTF-8".into()),
            started,
        );
    };
    let args = http_request_args(&path, body);
    if args.is_empty() {
        return respond(&Reply::Error("invalid number of arguments".into()), started);
    }
    let request = Request::from_strs(&args);
    let mut session = Session {
        output: OutputFormat::Json,
        step_walks: Some(super::loops::SHARED_LOOP_HOLD),
        ..Session::default()
    };
    if let Some(pw) = password {
        session.authenticated = crate::cmd::Host::check_password(&*server, &pw);
    }
    let outcome = server.execute(&request, &mut session, Origin::Client);
    let outcome = super::finish_walk(&server, outcome).await;
    if let Some(end) = outcome.durable_at {
        super::make_durable(&server, end).await;
    }
    if let Reply::Stream(s) = outcome.reply {
        let body = ChannelBody(super::stream::http_body(server, s, started));
        return response(StatusCode::OK, Either::Right(body));
    }
    respond(&outcome.reply, started)
}

/// The HTTP status for a reply: 200 for success, 404 for a missing key or id, 409 for `SET NX`
/// on an existing id, and an error class for errors (Tile38 answers 200 for everything).
fn status_of(reply: &Reply) -> StatusCode {
    match reply {
        Reply::Nil {
            err: "id already exists",
        } => StatusCode::CONFLICT,
        Reply::Nil { .. } | Reply::Miss { .. } => StatusCode::NOT_FOUND,
        Reply::Error(text) => error_status(text),
        _ => StatusCode::OK,
    }
}

fn error_status(text: &str) -> StatusCode {
    if text.starts_with("LOADING") {
        StatusCode::SERVICE_UNAVAILABLE
    } else if text == "authentication required" || text == "invalid password" {
        StatusCode::UNAUTHORIZED
    } else if text == "read only" || text == "not the leader" {
        StatusCode::FORBIDDEN
    } else if text == "key not found" || text == "id not found" {
        StatusCode::NOT_FOUND
    } else if text == "timeout" {
        // The query did not finish within the seconds its TIMEOUT gave.
        StatusCode::GATEWAY_TIMEOUT
    } else {
        StatusCode::BAD_REQUEST
    }
}

fn respond(reply: &Reply, started: Instant) -> Response<Body> {
    let body = encode_http_body(reply, started.elapsed());
    response(status_of(reply), Either::Left(Full::new(Bytes::from(body))))
}

fn response(status: StatusCode, body: Body) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("Content-Type", "application/json; charset=utf-8")
        .header("Access-Control-Allow-Origin", "*")
        .body(body)
        .expect("static headers are valid")
}
