//! SIGTERM during a slow request: the request completes, the process exits 0.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{raw_request, start_backend, Gateway};

#[test]
fn sigterm_drains_in_flight_requests_and_exits_zero() {
    let backend = start_backend();
    let config = r#"{"version": 3, "port": PORT, "timeout": "5s",
        "endpoints": [{"endpoint": "/slow", "backend": [{"host": ["http://BACKEND"], "url_pattern": "/slow"}]}]}"#
        .replace("BACKEND", &backend.to_string());
    let mut gw = Gateway::start(&config);
    let port = gw.port;
    let in_flight = std::thread::spawn(move || raw_request(port, "GET", "/slow", &[], ""));
    std::thread::sleep(Duration::from_millis(400));

    let pid = gw.child.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());

    let reply = in_flight
        .join()
        .unwrap()
        .expect("in-flight request must complete");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), serde_json::json!({"slow": true}));

    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(s) = gw.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "gateway did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(exit.code(), Some(0));
    assert!(
        raw_request(port, "GET", "/__health", &[], "").is_err(),
        "no longer accepting"
    );
}
