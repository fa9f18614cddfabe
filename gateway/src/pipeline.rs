//! Builds each endpoint's proxy stack once, at start-up, from typed settings. Only configured
//! features add a layer; the order below is the order KrakenD applies them.

use std::sync::Arc;

use crate::backend::client::HttpClient;
use crate::backend::BackendProxy;
use crate::config::pattern::normalize_param;
use crate::config::EndpointConfig;
use crate::proxy::flatmap::Flatmap;
use crate::proxy::merge::{merge_deadline, ParallelMerge};
use crate::proxy::sequential::{parse_resp_param, Replacement, SequentialMerge};
use crate::proxy::shadow::Shadow;
use crate::proxy::static_data::Static;
use crate::proxy::SharedProxy;

/// The proxy stack of one endpoint.
pub fn build(endpoint: &EndpointConfig, client: &HttpClient) -> SharedProxy {
    build_metered(endpoint, client, None)
}

/// The proxy stack of one endpoint, each backend measured when `metrics` asks for it.
pub fn build_metered(
    endpoint: &EndpointConfig,
    client: &HttpClient,
    metrics: Option<&crate::metrics::Registry>,
) -> SharedProxy {
    let (shadows, mains): (Vec<_>, Vec<_>) = endpoint.backends.iter().partition(|b| b.proxy.shadow);
    // Backend tier: request build + HTTP call + decode + manipulation, one per backend.
    let backend = |b: &crate::config::BackendConfig| -> SharedProxy {
        let series = metrics
            .filter(|m| m.backend_enabled)
            .map(|m| m.backend(&endpoint.endpoint, &b.url_pattern_raw, &b.hosts.join(",")));
        let mut exchange = BackendProxy::new(b, client.clone(), endpoint.concurrent_calls);
        if let Some(series) = &series {
            exchange = exchange.with_response_sizes(series.clone());
        }
        let http = Arc::new(exchange);
        // Metrics measure the real backend exchange; traffic control and validation wrap it.
        let proxy: SharedProxy = match series {
            Some(series) => crate::metrics::metered_backend(series, http.clone()),
            None => http.clone(),
        };
        // Lua sits inside the breaker and the rate limit (its errors count as the backend's)
        // and sees the backend call already built, as KrakenD's backend factory does.
        let proxy = match &b.traffic.lua {
            Some(lua) => {
                let targeter: crate::lua::Targeter = Arc::new(move |r| http.target(r));
                crate::lua::wrap_backend(lua, endpoint.timeout, proxy, targeter)
            }
            None => proxy,
        };
        crate::validation::wrap_backend(&b.traffic, proxy)
    };
    let children: Vec<SharedProxy> = mains.iter().map(|b| backend(b)).collect();

    // Several backends: one merge layer over them (sequential when asked).
    let mut proxy: SharedProxy = if children.len() == 1 {
        children.into_iter().next().expect("one backend")
    } else if endpoint.proxy.sequential {
        let replacements = sequential_replacements(endpoint, &mains);
        Arc::new(SequentialMerge::new(
            children,
            replacements,
            merge_deadline(endpoint.timeout),
        ))
    } else {
        Arc::new(ParallelMerge::new(
            children,
            merge_deadline(endpoint.timeout),
        ))
    };
    // Endpoint flatmap works on the merged data.
    if !endpoint.proxy.flatmap.is_empty() {
        proxy = Arc::new(Flatmap::new(proxy, endpoint.proxy.flatmap.clone()));
    }
    // Static data sees the final merge outcome (its strategy depends on it).
    if let Some(s) = &endpoint.proxy.static_data {
        proxy = Arc::new(Static::new(proxy, s));
    }
    // Shadow backends are fired beside everything else and never change the answer.
    if !shadows.is_empty() {
        proxy = Arc::new(Shadow::new(
            proxy,
            shadows.iter().map(|b| backend(b)).collect(),
        ));
    }
    // `modifier/lua-proxy` wraps the whole proxy stack: `pre` before any backend, `post` on
    // the merged response.
    if let Some(lua) = &endpoint.traffic.lua_proxy {
        proxy = crate::lua::wrap_proxy(lua, endpoint.timeout, proxy);
    }
    let proxy = crate::validation::wrap_endpoint(&endpoint.traffic, proxy);
    // KrakenD's `pipe` metrics wrap the whole stack, validation included.
    match metrics.filter(|m| m.proxy_enabled) {
        Some(m) => m.proxy(&endpoint.endpoint, proxy),
        None => proxy,
    }
}

fn sequential_replacements(
    endpoint: &EndpointConfig,
    backends: &[&crate::config::BackendConfig],
) -> Vec<Vec<Replacement>> {
    let propagated: Vec<Replacement> = endpoint
        .proxy
        .sequential_propagated_params
        .iter()
        .filter_map(|p| parse_resp_param(&normalize_param(p)))
        .collect();
    backends
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let mut list: Vec<Replacement> = b
                .url_pattern
                .param_names()
                .filter_map(parse_resp_param)
                .filter(|r| r.backend < i)
                .collect();
            if i > 0 {
                list.extend(propagated.iter().filter(|r| r.backend < i).cloned());
            }
            list
        })
        .collect()
}
