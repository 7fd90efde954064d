//! The HTTP server: listeners, TLS, basic authentication, routing, the request limit of the
//! metrics path, content negotiation, gzip and graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::future::select_all;
use futures_util::FutureExt;
use http::header::{
    ACCEPT, ACCEPT_ENCODING, AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, WWW_AUTHENTICATE,
};
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tracing::{debug, error, info, warn};

use crate::cli::{ExporterInfo, WebOptions, VERSION};
use crate::collector::{Gatherer, Scrape};
use crate::encode::{self, Format};
use crate::process;
use crate::sink::MetricSink;
use crate::web_config::{WebConfig, WebConfigError};

/// Error that stops the server from starting.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    WebConfig(#[from] WebConfigError),
    #[error("failed to listen on {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
    #[error("no sockets were passed by systemd socket activation: {0}")]
    SystemdSocket(String),
    #[error("the web configuration enables TLS but TLS settings could not be loaded")]
    Tls,
}

/// How long a client may take to send the request headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a client may take to finish the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Part of Prometheus's scrape timeout kept free so that the response arrives before it expires.
const SCRAPE_TIMEOUT_MARGIN: Duration = Duration::from_millis(500);

struct Endpoint {
    path: String,
    gatherer: Arc<dyn Gatherer>,
    exporter_metrics: bool,
    /// Encoded responses of a gatherer that reports generations.
    cache: Mutex<Vec<CachedResponse>>,
}

/// Age after which an encoded response of an unchanged generation is encoded again, in the
/// background while it is still served. It bounds how stale the exporter's own metrics
/// (process_*) are in such a response, to about this age plus one encoding.
const RESPONSE_CACHE_AGE: Duration = Duration::from_secs(1);

/// An encoded response, valid for one generation, format and content coding.
struct CachedResponse {
    generation: u64,
    format: Format,
    gzip: bool,
    created: Instant,
    body: Bytes,
    /// When a background task started to encode a newer response in place of this aged one.
    refresh_started: Option<Instant>,
}

/// How long a refresh may take before another request starts one, in case the first failed.
const REFRESH_TIMEOUT: Duration = Duration::from_secs(5);

/// Builder of the HTTP server of an exporter.
pub struct Server {
    info: ExporterInfo,
    web: WebOptions,
    endpoints: Vec<Endpoint>,
    text_routes: Vec<(String, String)>,
}

struct State {
    info: ExporterInfo,
    web: WebOptions,
    endpoints: Vec<Endpoint>,
    text_routes: Vec<(String, String)>,
    web_config: Option<WebConfig>,
    limit: Option<Arc<Semaphore>>,
    landing_page: Bytes,
}

impl Server {
    pub fn new(info: ExporterInfo, web: WebOptions) -> Server {
        Server {
            info,
            web,
            endpoints: Vec::new(),
            text_routes: Vec::new(),
        }
    }

    /// Serves `gatherer` at the telemetry path, with the exporter's own metrics unless they are
    /// disabled.
    pub fn metrics(mut self, gatherer: Arc<dyn Gatherer>) -> Server {
        let path = self.web.telemetry_path.clone();
        self.endpoints.push(Endpoint {
            path,
            gatherer,
            exporter_metrics: !self.web.disable_exporter_metrics,
            cache: Mutex::new(Vec::new()),
        });
        self
    }

    /// Serves `gatherer` at another path, such as `/probe`, without the exporter's own metrics.
    pub fn endpoint(mut self, path: &str, gatherer: Arc<dyn Gatherer>) -> Server {
        self.endpoints.push(Endpoint {
            path: path.to_owned(),
            gatherer,
            exporter_metrics: false,
            cache: Mutex::new(Vec::new()),
        });
        self
    }

    /// Serves a fixed `text/plain` body at `path`, such as `/healthz`.
    pub fn text_route(mut self, path: &str, body: &str) -> Server {
        self.text_routes.push((path.to_owned(), body.to_owned()));
        self
    }

    /// Serves until SIGTERM or SIGINT, then lets requests in flight finish within the shutdown
    /// timeout.
    pub async fn run(self) -> Result<(), ServeError> {
        self.bind().await?.serve_until(shutdown_signal()).await;
        Ok(())
    }

    /// Loads the web configuration and opens the listeners, so that start-up errors come before
    /// serving and the bound addresses are known.
    pub async fn bind(self) -> Result<BoundServer, ServeError> {
        let web_config = match &self.web.config_file {
            Some(path) => Some(WebConfig::open(path)?),
            None => None,
        };
        let listeners = listen(&self.web).await?;
        let limit =
            (self.web.max_requests > 0).then(|| Arc::new(Semaphore::new(self.web.max_requests)));
        let landing_page = landing_page(&self.info, &self.web.telemetry_path);
        let state = Arc::new(State {
            info: self.info,
            web: self.web,
            endpoints: self.endpoints,
            text_routes: self.text_routes,
            web_config,
            limit,
            landing_page,
        });
        Ok(BoundServer { state, listeners })
    }
}

/// A server whose listeners are open.
pub struct BoundServer {
    state: Arc<State>,
    listeners: Vec<TcpListener>,
}

impl BoundServer {
    /// Returns the addresses the server listens on.
    pub fn local_addresses(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// Serves until `stop` completes, then stops accepting and lets requests in flight finish
    /// within the shutdown timeout.
    pub async fn serve_until(self, stop: impl Future<Output = &'static str>) {
        let BoundServer { state, listeners } = self;
        let tls = state
            .web_config
            .as_ref()
            .is_some_and(|c| c.settings().tls.is_some());
        let addresses: Vec<String> = listeners
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .map(|a| a.to_string())
            .collect();
        info!(
            version = VERSION,
            exporter = state.info.name,
            addresses = %addresses.join(","),
            tls,
            "Listening"
        );
        if process::running_as_root() {
            warn!(
                exporter = state.info.name,
                "Running as root; the exporter needs no privileges and should run as an unprivileged user"
            );
        }

        let graceful = GracefulShutdown::new();
        let mut stop = std::pin::pin!(stop);
        loop {
            let accepts = listeners.iter().map(|l| l.accept().boxed());
            tokio::select! {
                (accepted, _, _) = select_all(accepts) => match accepted {
                    Ok((stream, peer)) => {
                        let _ = stream.set_nodelay(true);
                        tokio::spawn(serve_connection(Arc::clone(&state), stream, peer, tls, graceful.watcher()));
                    }
                    Err(e) => {
                        // Running out of file descriptors must not turn into a busy loop.
                        warn!(error = %e, "Failed to accept a connection");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                signal = &mut stop => {
                    info!(signal, "Shutting down");
                    break;
                }
            }
        }
        drop(listeners);
        let grace = state.web.shutdown_grace;
        if tokio::time::timeout(grace, graceful.shutdown())
            .await
            .is_err()
        {
            warn!(
                timeout_seconds = grace.as_secs_f64(),
                "Requests still in flight at the shutdown timeout were cut off"
            );
        }
        info!("Stopped");
    }
}

/// Waits for SIGTERM or SIGINT and returns the name of the signal.
pub async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(term) => term,
        Err(e) => {
            error!(error = %e, "Cannot handle SIGTERM");
            let _ = tokio::signal::ctrl_c().await;
            return "SIGINT";
        }
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = tokio::signal::ctrl_c() => "SIGINT",
    }
}

async fn listen(web: &WebOptions) -> Result<Vec<TcpListener>, ServeError> {
    if web.systemd_socket {
        return systemd_listeners();
    }
    let mut listeners = Vec::new();
    for address in &web.listen_addresses {
        listeners.push(bind(address).await?);
    }
    Ok(listeners)
}

/// Binds an address as Go's `net.Listen` reads it: `:9100` means every address, IPv6 and IPv4.
async fn bind(address: &str) -> Result<TcpListener, ServeError> {
    let error = |source| ServeError::Bind {
        address: address.to_owned(),
        source,
    };
    if let Some(port) = address.strip_prefix(':') {
        return match TcpListener::bind(format!("[::]:{port}")).await {
            Ok(listener) => Ok(listener),
            Err(_) => TcpListener::bind(format!("0.0.0.0:{port}"))
                .await
                .map_err(error),
        };
    }
    TcpListener::bind(address).await.map_err(error)
}

fn systemd_listeners() -> Result<Vec<TcpListener>, ServeError> {
    let mut fds = listenfd::ListenFd::from_env();
    let mut listeners = Vec::new();
    for index in 0..fds.len() {
        let listener = fds
            .take_tcp_listener(index)
            .map_err(|e| ServeError::SystemdSocket(e.to_string()))?;
        if let Some(listener) = listener {
            listener
                .set_nonblocking(true)
                .map_err(|e| ServeError::SystemdSocket(e.to_string()))?;
            listeners.push(
                TcpListener::from_std(listener)
                    .map_err(|e| ServeError::SystemdSocket(e.to_string()))?,
            );
        }
    }
    if listeners.is_empty() {
        return Err(ServeError::SystemdSocket(
            "LISTEN_FDS is unset or zero".to_owned(),
        ));
    }
    Ok(listeners)
}

async fn serve_connection(
    state: Arc<State>,
    stream: TcpStream,
    peer: SocketAddr,
    tls: bool,
    watcher: Watcher,
) {
    let service_state = Arc::clone(&state);
    let service = service_fn(move |request| {
        let state = Arc::clone(&service_state);
        async move { Ok::<_, Infallible>(handle(state, request).await) }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);

    let result = if tls {
        let Some(config) = state
            .web_config
            .as_ref()
            .and_then(|c| c.settings().tls.clone())
        else {
            return;
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let stream =
            match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    debug!(peer = %peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    debug!(peer = %peer, "TLS handshake timed out");
                    return;
                }
            };
        watcher
            .watch(builder.serve_connection(TokioIo::new(stream), service))
            .await
    } else {
        watcher
            .watch(builder.serve_connection(TokioIo::new(stream), service))
            .await
    };
    if let Err(e) = result {
        debug!(peer = %peer, error = %e, "Connection ended with an error");
    }
}

async fn handle(state: Arc<State>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let settings = state.web_config.as_ref().map(|c| c.settings());
    let mut response = match &settings {
        Some(settings) if settings.users.is_some() => {
            let authorized = match &state.web_config {
                Some(config) => {
                    config
                        .authorize(settings, request.headers().get(AUTHORIZATION))
                        .await
                }
                None => true,
            };
            if authorized {
                route(&state, &request).await
            } else {
                let mut response = text(StatusCode::UNAUTHORIZED, "Unauthorized\n");
                response
                    .headers_mut()
                    .insert(WWW_AUTHENTICATE, http::HeaderValue::from_static("Basic"));
                response
            }
        }
        _ => route(&state, &request).await,
    };
    if let Some(settings) = settings {
        for (name, value) in &settings.headers {
            response.headers_mut().insert(name.clone(), value.clone());
        }
    }
    response
}

async fn route(state: &Arc<State>, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    let path = request.uri().path();
    if let Some(index) = state.endpoints.iter().position(|e| e.path == path) {
        return serve_metrics(state, index, request).await;
    }
    if let Some((_, body)) = state.text_routes.iter().find(|(p, _)| p == path) {
        return text(StatusCode::OK, body);
    }
    match path {
        "/" => {
            let mut response = Response::new(Full::new(state.landing_page.clone()));
            response.headers_mut().insert(
                CONTENT_TYPE,
                http::HeaderValue::from_static("text/html; charset=utf-8"),
            );
            response
        }
        "/-/healthy" => text(StatusCode::OK, "Healthy\n"),
        "/-/ready" => text(StatusCode::OK, "Ready\n"),
        _ => text(StatusCode::NOT_FOUND, "404 page not found\n"),
    }
}

async fn serve_metrics(
    state: &Arc<State>,
    index: usize,
    request: &Request<Incoming>,
) -> Response<Full<Bytes>> {
    let Some(endpoint) = state.endpoints.get(index) else {
        return text(StatusCode::NOT_FOUND, "404 page not found\n");
    };
    let _permit = match &state.limit {
        Some(limit) => match Arc::clone(limit).try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => {
                warn!(
                    limit = state.web.max_requests,
                    "Rejected a scrape over the request limit"
                );
                return text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &format!(
                        "Limit of concurrent requests reached ({}), try again later.\n",
                        state.web.max_requests
                    ),
                );
            }
        },
        None => None,
    };

    let accept = request.headers().get(ACCEPT).and_then(|v| v.to_str().ok());
    let format = encode::negotiate(accept, state.web.enable_openmetrics);
    let gzip = request
        .headers()
        .get(ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(accepts_gzip);
    let cacheable = request.uri().query().is_none();
    let generation = endpoint.gatherer.generation().filter(|_| cacheable);
    if let Some(generation) = generation {
        match cached_body(endpoint, generation, format, gzip) {
            Cached::Fresh(body) => return metrics_response(body, format, gzip),
            Cached::Aged(body) => {
                tokio::spawn(refresh(Arc::clone(state), index, generation, format, gzip));
                return metrics_response(body, format, gzip);
            }
            Cached::Missing => {}
        }
    }

    let scrape = Scrape {
        deadline: scrape_deadline(request.headers()),
        params: request
            .uri()
            .query()
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default(),
    };
    match render(state, endpoint, &scrape, format, gzip).await {
        Ok((body, gzip)) => {
            if let Some(generation) = generation {
                store_body(endpoint, generation, format, gzip, body.clone());
            }
            metrics_response(body, format, gzip)
        }
        Err(response) => response,
    }
}

/// Gathers, encodes and, when `gzip` is set, compresses one exposition. Returns the body and
/// whether it is compressed, or the error response.
async fn render(
    state: &State,
    endpoint: &Endpoint,
    scrape: &Scrape,
    format: Format,
    gzip: bool,
) -> Result<(Bytes, bool), Response<Full<Bytes>>> {
    let mut sink = MetricSink::new();
    let gathered = std::panic::AssertUnwindSafe(endpoint.gatherer.gather(scrape, &mut sink))
        .catch_unwind()
        .await;
    match gathered {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(text(e.status, &format!("{}\n", e.message))),
        Err(_) => {
            error!(path = %endpoint.path, "Gathering metrics panicked");
            return Err(text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error while gathering metrics\n",
            ));
        }
    }
    if endpoint.exporter_metrics {
        process::add_process_metrics(&mut sink);
        process::add_build_info(&mut sink, &state.info);
    }

    let families = sink.finish();
    let text = encode::encode(&families, format);
    if !gzip {
        return Ok((Bytes::from(text), false));
    }
    match compress(&text) {
        Ok(compressed) => Ok((compressed, true)),
        Err(e) => {
            error!(error = %e, "Failed to compress a response; sending it uncompressed");
            Ok((Bytes::from(text), false))
        }
    }
}

/// Encodes a newer response in place of an aged one, off the request path.
async fn refresh(state: Arc<State>, index: usize, generation: u64, format: Format, gzip: bool) {
    let Some(endpoint) = state.endpoints.get(index) else {
        return;
    };
    if let Ok((body, compressed)) = render(&state, endpoint, &Scrape::default(), format, gzip).await
    {
        store_body(endpoint, generation, format, compressed, body);
    }
}

/// Result of looking up the response cache for one request.
enum Cached {
    Fresh(Bytes),
    /// Past its age: served once more while a background task encodes a newer one.
    Aged(Bytes),
    Missing,
}

/// Looks up the response of `generation`. An aged one is handed out for a refresh only once per
/// [`REFRESH_TIMEOUT`]; other requests meanwhile get it as fresh.
fn cached_body(endpoint: &Endpoint, generation: u64, format: Format, gzip: bool) -> Cached {
    let Ok(mut cache) = endpoint.cache.lock() else {
        return Cached::Missing;
    };
    let Some(entry) = cache
        .iter_mut()
        .find(|c| c.generation == generation && c.format == format && c.gzip == gzip)
    else {
        return Cached::Missing;
    };
    if entry.created.elapsed() < RESPONSE_CACHE_AGE {
        return Cached::Fresh(entry.body.clone());
    }
    match entry.refresh_started {
        Some(started) if started.elapsed() < REFRESH_TIMEOUT => Cached::Fresh(entry.body.clone()),
        _ => {
            entry.refresh_started = Some(Instant::now());
            Cached::Aged(entry.body.clone())
        }
    }
}

fn store_body(endpoint: &Endpoint, generation: u64, format: Format, gzip: bool, body: Bytes) {
    if let Ok(mut cache) = endpoint.cache.lock() {
        cache.retain(|c| !(c.format == format && c.gzip == gzip));
        cache.push(CachedResponse {
            generation,
            format,
            gzip,
            created: Instant::now(),
            body,
            refresh_started: None,
        });
    }
}

/// Reads Prometheus's `X-Prometheus-Scrape-Timeout-Seconds` into a deadline that leaves a margin
/// for encoding and sending the response.
fn scrape_deadline(headers: &HeaderMap) -> Option<tokio::time::Instant> {
    let seconds: f64 = headers
        .get("x-prometheus-scrape-timeout-seconds")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    if !seconds.is_finite() || seconds <= 0.0 {
        return None;
    }
    let timeout = Duration::from_secs_f64(seconds.min(86400.0));
    let margin = SCRAPE_TIMEOUT_MARGIN.min(timeout / 10);
    Some(tokio::time::Instant::now() + timeout - margin)
}

/// Compresses an exposition with gzip at the fastest level, which shrinks text expositions about
/// tenfold at a fraction of the default level's CPU time.
fn compress(text: &str) -> std::io::Result<Bytes> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(text.len() / 4),
        flate2::Compression::fast(),
    );
    encoder.write_all(text.as_bytes())?;
    Ok(Bytes::from(encoder.finish()?))
}

fn metrics_response(body: Bytes, format: Format, gzip: bool) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    if gzip {
        response
            .headers_mut()
            .insert(CONTENT_ENCODING, http::HeaderValue::from_static("gzip"));
    }
    response.headers_mut().insert(
        CONTENT_TYPE,
        http::HeaderValue::from_static(format.content_type()),
    );
    response
}

/// Reports whether an `Accept-Encoding` header allows gzip (listed, and not with `q=0`).
fn accepts_gzip(header: &str) -> bool {
    header.split(',').any(|part| {
        let mut params = part.split(';').map(str::trim);
        let coding = params.next().unwrap_or_default();
        (coding.eq_ignore_ascii_case("gzip") || coding == "*")
            && !params
                .any(|p| p.strip_prefix("q=").and_then(|q| q.parse::<f64>().ok()) == Some(0.0))
    })
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_owned())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn landing_page(info: &ExporterInfo, telemetry_path: &str) -> Bytes {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let page = format!(
        "<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\"><title>{name}</title></head>\n<body>\n\
         <h1>{name}</h1>\n<p>{description}</p>\n<p>Version {VERSION}</p>\n\
         <ul>\n<li><a href=\"{path}\">Metrics</a></li>\n<li><a href=\"/-/healthy\">Health</a></li>\n</ul>\n\
         </body>\n</html>\n",
        name = escape(info.name),
        description = escape(info.description),
        path = escape(telemetry_path.trim_start_matches('/')),
    );
    Bytes::from(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_acceptance() {
        assert!(accepts_gzip("gzip"));
        assert!(accepts_gzip("deflate, gzip;q=1.0, *;q=0.5"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("identity"));
    }

    #[test]
    fn scrape_timeout_header_sets_deadline() {
        let mut headers = HeaderMap::new();
        headers.insert("x-prometheus-scrape-timeout-seconds", "10".parse().unwrap());
        let deadline = scrape_deadline(&headers).unwrap();
        let left = deadline - tokio::time::Instant::now();
        assert!(
            left > Duration::from_millis(9000) && left <= Duration::from_millis(9500),
            "{left:?}"
        );
        headers.insert(
            "x-prometheus-scrape-timeout-seconds",
            "nope".parse().unwrap(),
        );
        assert!(scrape_deadline(&headers).is_none());
    }
}
