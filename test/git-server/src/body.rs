//! Response bodies for the servers: fixed bytes, or a stream fed by a task.

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame};
use tokio::sync::mpsc;

/// The body type of every response the servers write.
pub(crate) type ServerBody = BoxBody<Bytes, io::Error>;

/// A body with the given bytes.
pub(crate) fn full(bytes: impl Into<Bytes>) -> ServerBody {
    Full::new(bytes.into()).map_err(|never: Infallible| match never {}).boxed()
}

/// An empty body.
pub(crate) fn empty() -> ServerBody {
    full(Bytes::new())
}

/// A body streamed from a channel: each `Ok` is a data frame, an `Err` aborts the response,
/// and the body ends when every sender is gone.
pub(crate) struct ChannelBody {
    rx: mpsc::Receiver<io::Result<Bytes>>,
}

impl ChannelBody {
    /// A body and the sender that feeds it (`depth` chunks of back-pressure).
    pub(crate) fn channel(depth: usize) -> (mpsc::Sender<io::Result<Bytes>>, ServerBody) {
        let (tx, rx) = mpsc::channel(depth);
        (tx, Self { rx }.boxed())
    }
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.rx.poll_recv(cx).map(|item| item.map(|chunk| chunk.map(Frame::data)))
    }
}
