//! Shadow backends: called with a copy of the request, their responses discarded.

use std::sync::Arc;

use super::{Proxy, ProxyFuture, Request, SharedProxy};

/// Wraps `main`, firing `shadows` in the background.
pub struct Shadow {
    main: SharedProxy,
    shadows: Arc<[SharedProxy]>,
}

impl Shadow {
    /// The layer.
    pub fn new(main: SharedProxy, shadows: Vec<SharedProxy>) -> Self {
        Self {
            main,
            shadows: shadows.into(),
        }
    }
}

impl Proxy for Shadow {
    fn call(&self, request: Request) -> ProxyFuture {
        for s in self.shadows.iter() {
            let fut = s.call(request.clone());
            tokio::spawn(async move {
                let _ = fut.await;
            });
        }
        self.main.call(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::testing::*;
    use crate::proxy::{from_fn, Outcome};
    use serde_json::json;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn shadow_is_called_but_ignored() {
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        let shadow = from_fn(move |_| {
            h.fetch_add(1, Ordering::SeqCst);
            async { Outcome::ok(data(json!({"shadow": true}))) }
        });
        let l = Shadow::new(answering(json!({"main": true})), vec![shadow]);
        let out = l.call(request()).await;
        assert!(!out.response.unwrap().data.contains_key("shadow"));
        tokio::task::yield_now().await;
        assert_eq!(hits.load(Ordering::SeqCst), 1);
    }
}
