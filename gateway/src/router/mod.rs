//! gin-compatible routing: per-method segment tries with `{param}` and a trailing `*`,
//! trailing-slash and fixed-path (case-insensitive) redirects, and 405 detection.

pub mod path;

use std::collections::HashMap;

use http::Method;

use crate::config::pattern::{RoutePattern, RouteSegment};

#[derive(Debug)]
struct Node<T> {
    literals: HashMap<String, Node<T>>,
    param: Option<(String, Box<Node<T>>)>,
    wildcard: Option<(String, T)>,
    value: Option<T>,
    pattern: Option<String>,
}

impl<T> Default for Node<T> {
    fn default() -> Self {
        Self {
            literals: HashMap::new(),
            param: None,
            wildcard: None,
            value: None,
            pattern: None,
        }
    }
}

/// A successful lookup.
#[derive(Debug, PartialEq)]
pub struct Found<'a, T> {
    /// The route's value.
    pub value: &'a T,
    /// Captured parameters in path order (`*` captures under the name `*`).
    pub params: Vec<(String, String)>,
}

/// What the router decided for a request.
#[derive(Debug, PartialEq)]
pub enum Lookup<'a, T> {
    /// A route matched.
    Found(Found<'a, T>),
    /// Redirect (301 for GET, 307 otherwise) to this path.
    Redirect(String),
    /// The path exists for these other methods.
    MethodNotAllowed(Vec<Method>),
    /// Nothing matches.
    NotFound,
}

/// Behaviour switches (KrakenD's `router` options).
#[derive(Debug, Clone, Copy)]
pub struct RouterFlags {
    /// Redirect `/a/` <-> `/a`.
    pub redirect_trailing_slash: bool,
    /// Redirect to the cleaned, case-corrected path.
    pub redirect_fixed_path: bool,
    /// Answer 405 when another method matches.
    pub handle_method_not_allowed: bool,
}

/// The routing table.
#[derive(Debug)]
pub struct Router<T> {
    trees: Vec<(Method, Node<T>)>,
    flags: RouterFlags,
}

/// Path segments looked up without allocating.
const INLINE_SEGMENTS: usize = 16;

fn split(path: &str) -> Vec<&str> {
    path.strip_prefix('/').unwrap_or(path).split('/').collect()
}

impl<T> Router<T> {
    /// An empty router.
    pub fn new(flags: RouterFlags) -> Self {
        Self {
            trees: Vec::new(),
            flags,
        }
    }

    /// Adds a route; conflicts are reported the way gin would refuse them.
    pub fn insert(
        &mut self,
        method: Method,
        pattern: &RoutePattern,
        display: &str,
        value: T,
    ) -> Result<(), String> {
        let idx = match self.trees.iter().position(|(m, _)| *m == method) {
            Some(i) => i,
            None => {
                self.trees.push((method.clone(), Node::default()));
                self.trees.len() - 1
            }
        };
        let mut node = &mut self.trees[idx].1;
        for seg in &pattern.segments {
            match seg {
                RouteSegment::Literal(l) => {
                    if node.wildcard.is_some() {
                        return Err(format!(
                            "{method} {display} conflicts with the wildcard route {}",
                            node.pattern.clone().unwrap_or_default()
                        ));
                    }
                    node = node.literals.entry(l.clone()).or_default();
                }
                RouteSegment::Param(name) => {
                    if node.wildcard.is_some() {
                        return Err(format!(
                            "{method} {display} conflicts with an existing wildcard route"
                        ));
                    }
                    match &mut node.param {
                        Some((existing, _)) if existing != name => {
                            return Err(format!(
                                "{method} {display}: parameter {{{name}}} conflicts with {{{existing}}} used at the same position by another endpoint"
                            ));
                        }
                        Some(_) => {}
                        None => node.param = Some((name.clone(), Box::default())),
                    }
                    node = node
                        .param
                        .as_mut()
                        .map(|(_, n)| n.as_mut())
                        .expect("param just set");
                }
                RouteSegment::Wildcard => {
                    if node.wildcard.is_some() {
                        return Err(format!("{method} {display} is already defined"));
                    }
                    let has_children = !node.literals.is_empty() || node.param.is_some();
                    if has_children {
                        return Err(format!(
                            "{method} {display}: a wildcard cannot share its position with other routes"
                        ));
                    }
                    node.wildcard = Some(("*".into(), value));
                    node.pattern = Some(display.to_string());
                    return Ok(());
                }
            }
        }
        if node.value.is_some() {
            return Err(format!("{method} {display} is already defined"));
        }
        node.value = Some(value);
        node.pattern = Some(display.to_string());
        Ok(())
    }

    fn tree(&self, method: &Method) -> Option<&Node<T>> {
        self.trees.iter().find(|(m, _)| m == method).map(|(_, n)| n)
    }

    /// Routes a (decoded) path.
    pub fn lookup(&self, method: &Method, path: &str) -> Lookup<'_, T> {
        // The segments of a usual path fit on the stack.
        let mut inline = [""; INLINE_SEGMENTS];
        let many;
        let segs: &[&str] = if path.bytes().filter(|&b| b == b'/').count() < INLINE_SEGMENTS {
            let mut n = 0;
            for seg in path.strip_prefix('/').unwrap_or(path).split('/') {
                inline[n] = seg;
                n += 1;
            }
            &inline[..n]
        } else {
            many = split(path);
            &many
        };
        if let Some(tree) = self.tree(method) {
            let mut params = Vec::new();
            if let Some(value) = find(tree, segs, 0, &mut params) {
                return Lookup::Found(Found { value, params });
            }
            if method != Method::CONNECT && path != "/" {
                if self.flags.redirect_trailing_slash {
                    let alt = if let Some(stripped) = path.strip_suffix('/') {
                        stripped.to_string()
                    } else {
                        format!("{path}/")
                    };
                    if !alt.is_empty() && find(tree, &split(&alt), 0, &mut Vec::new()).is_some() {
                        return Lookup::Redirect(alt);
                    }
                }
                if self.flags.redirect_fixed_path {
                    let cleaned = path::clean(path);
                    if let Some(fixed) =
                        find_ci(tree, &split(&cleaned), self.flags.redirect_trailing_slash)
                    {
                        return Lookup::Redirect(fixed);
                    }
                }
            }
        }
        if self.flags.handle_method_not_allowed {
            let allowed: Vec<Method> = self
                .trees
                .iter()
                .filter(|(m, _)| m != method)
                .filter(|(_, t)| find(t, segs, 0, &mut Vec::new()).is_some())
                .map(|(m, _)| m.clone())
                .collect();
            if !allowed.is_empty() {
                return Lookup::MethodNotAllowed(allowed);
            }
        }
        Lookup::NotFound
    }

    /// Every registered (method, pattern), for `check -t` reports.
    pub fn routes(&self) -> Vec<(Method, String)> {
        let mut out = Vec::new();
        for (m, t) in &self.trees {
            collect(t, m, &mut out);
        }
        out
    }
}

fn collect<T>(node: &Node<T>, m: &Method, out: &mut Vec<(Method, String)>) {
    if let Some(p) = &node.pattern {
        out.push((m.clone(), p.clone()));
    }
    let mut keys: Vec<_> = node.literals.keys().collect();
    keys.sort();
    for k in keys {
        collect(&node.literals[k], m, out);
    }
    if let Some((_, n)) = &node.param {
        collect(n, m, out);
    }
}

fn find<'a, T>(
    node: &'a Node<T>,
    segs: &[&str],
    i: usize,
    params: &mut Vec<(String, String)>,
) -> Option<&'a T> {
    if i == segs.len() {
        return node.value.as_ref();
    }
    if let Some(child) = node.literals.get(segs[i]) {
        if let Some(v) = find(child, segs, i + 1, params) {
            return Some(v);
        }
    }
    if let Some((name, child)) = &node.param {
        if !segs[i].is_empty() {
            params.push((name.clone(), segs[i].to_string()));
            if let Some(v) = find(child, segs, i + 1, params) {
                return Some(v);
            }
            params.pop();
        }
    }
    if let Some((name, value)) = &node.wildcard {
        params.push((name.clone(), format!("/{}", segs[i..].join("/"))));
        return Some(value);
    }
    None
}

/// Case-insensitive lookup returning the path spelled as the route spells it.
fn find_ci<T>(node: &Node<T>, segs: &[&str], fix_trailing_slash: bool) -> Option<String> {
    fn go<T>(node: &Node<T>, segs: &[&str], i: usize, out: &mut Vec<String>, tsr: bool) -> bool {
        if i == segs.len() {
            if node.value.is_some() {
                return true;
            }
            if tsr && node.literals.get("").is_some_and(|n| n.value.is_some()) {
                out.push(String::new());
                return true;
            }
            return false;
        }
        if tsr && i + 1 == segs.len() && segs[i].is_empty() && node.value.is_some() {
            return true;
        }
        for (lit, child) in &node.literals {
            if lit.eq_ignore_ascii_case(segs[i]) {
                out.push(lit.clone());
                if go(child, segs, i + 1, out, tsr) {
                    return true;
                }
                out.pop();
            }
        }
        if let Some((_, child)) = &node.param {
            if !segs[i].is_empty() {
                out.push(segs[i].to_string());
                if go(child, segs, i + 1, out, tsr) {
                    return true;
                }
                out.pop();
            }
        }
        if node.wildcard.is_some() {
            out.extend(segs[i..].iter().map(|s| s.to_string()));
            return true;
        }
        false
    }
    let mut out = Vec::new();
    go(node, segs, 0, &mut out, fix_trailing_slash).then(|| format!("/{}", out.join("/")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLAGS: RouterFlags = RouterFlags {
        redirect_trailing_slash: true,
        redirect_fixed_path: true,
        handle_method_not_allowed: true,
    };

    fn router(routes: &[(&str, &str)]) -> Router<usize> {
        let mut r = Router::new(FLAGS);
        for (i, (m, p)) in routes.iter().enumerate() {
            r.insert(m.parse().unwrap(), &RoutePattern::parse(p).unwrap(), p, i)
                .unwrap();
        }
        r
    }

    #[test]
    fn static_beats_param_and_params_are_captured() {
        let r = router(&[("GET", "/a/{id}"), ("GET", "/a/new"), ("GET", "/w/*")]);
        match r.lookup(&Method::GET, "/a/new") {
            Lookup::Found(f) => assert_eq!(*f.value, 1),
            other => panic!("{other:?}"),
        }
        match r.lookup(&Method::GET, "/a/7") {
            Lookup::Found(f) => assert_eq!(f.params, vec![("id".to_string(), "7".to_string())]),
            other => panic!("{other:?}"),
        }
        match r.lookup(&Method::GET, "/w/x/y") {
            Lookup::Found(f) => assert_eq!(f.params[0].1, "/x/y"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn redirects_and_405() {
        let r = router(&[
            ("GET", "/static"),
            ("POST", "/only-post"),
            ("GET", "/dbg/*"),
        ]);
        assert_eq!(
            r.lookup(&Method::GET, "/static/"),
            Lookup::Redirect("/static".into())
        );
        assert_eq!(
            r.lookup(&Method::GET, "/StAtic"),
            Lookup::Redirect("/static".into())
        );
        assert_eq!(
            r.lookup(&Method::GET, "/dbg"),
            Lookup::Redirect("/dbg/".into())
        );
        assert_eq!(
            r.lookup(&Method::GET, "/x/../static"),
            Lookup::Redirect("/static".into())
        );
        assert_eq!(
            r.lookup(&Method::GET, "/only-post"),
            Lookup::MethodNotAllowed(vec![Method::POST])
        );
        assert_eq!(r.lookup(&Method::GET, "/nope"), Lookup::NotFound);
    }

    #[test]
    fn paths_of_any_depth_are_found() {
        let deep: String = (0..INLINE_SEGMENTS + 4).map(|i| format!("/s{i}")).collect();
        let exact: String = (0..INLINE_SEGMENTS).map(|i| format!("/s{i}")).collect();
        let r = router(&[("GET", "/w/*"), ("GET", &deep), ("GET", &exact)]);
        for (path, value) in [(&deep, 1), (&exact, 2)] {
            match r.lookup(&Method::GET, path) {
                Lookup::Found(f) => assert_eq!(*f.value, value, "{path}"),
                other => panic!("{path}: {other:?}"),
            }
        }
        let long = format!("/w{deep}/");
        match r.lookup(&Method::GET, &long) {
            Lookup::Found(f) => assert_eq!(f.params[0].1, format!("{deep}/")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn conflicts_are_reported() {
        let mut r = router(&[("GET", "/a/{x}")]);
        let p = RoutePattern::parse("/a/{y}/b").unwrap();
        assert!(r.insert(Method::GET, &p, "/a/{y}/b", 9).is_err());
        let p = RoutePattern::parse("/a/{x}").unwrap();
        assert!(r.insert(Method::GET, &p, "/a/{x}", 9).is_err());
        let p = RoutePattern::parse("/a/*").unwrap();
        assert!(r.insert(Method::GET, &p, "/a/*", 9).is_err());
    }
}
