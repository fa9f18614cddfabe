//! Interpreters for one configured script, pooled. An interpreter is made once (libraries,
//! KrakenD's globals, `sources` run, `pre`/`post` compiled) and reused: a call takes one from
//! the pool (a short lock), runs its code without any lock, and gives it back. Each call
//! gets fresh globals for `pre` and `post` (shared between the two, as in KrakenD) that
//! fall back to the interpreter's; `live` scripts get a new interpreter on every call.
//! A count hook stops a script that runs past its deadline.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mlua::{Function, HookTriggers, Lua, StdLib, Value as LuaValue, VmState};

use crate::config::namespaces::lua::LuaOptions;
use crate::lua::ctx::CtxHandle;
use crate::lua::error::ScriptError;
use crate::lua::request::RequestHandle;
use crate::lua::response::ResponseHandle;

/// How many instructions run between two deadline checks.
const CHECK_EVERY: u32 = 1_000;
/// Memory one interpreter may use.
const MEMORY_LIMIT: usize = 64 << 20;

/// The deadline of the running call (interpreter app data, read by the hook).
pub(crate) struct Deadline(pub(crate) Instant);

/// One configured script and its pool of interpreters.
pub struct Script {
    opts: LuaOptions,
    /// A source that could not be read at start-up (not `live`): every call fails.
    unreadable: Option<ScriptError>,
    limit: Duration,
    idle: Mutex<Vec<Vm>>,
    max_idle: usize,
}

/// One interpreter, ready to run a call.
pub struct Vm {
    lua: Lua,
    pre: Option<Function>,
    post: Option<Function>,
}

impl Script {
    /// The script for `opts`; every run stops after `limit`.
    pub fn new(opts: &LuaOptions, limit: Duration) -> Arc<Self> {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let missing = opts.sources.iter().find(|s| s.code.is_none());
        if let Some(s) = missing {
            tracing::error!(
                "{}: lua: cannot read the source {:?}; calls through this script fail",
                s.at,
                s.path
            );
        }
        Arc::new(Self {
            unreadable: missing
                .filter(|_| !opts.live)
                .map(|s| ScriptError::internal(unreadable(&s.path))),
            opts: opts.clone(),
            limit,
            idle: Mutex::new(Vec::new()),
            max_idle: cores * 4,
        })
    }

    /// The options this script was made from.
    pub fn options(&self) -> &LuaOptions {
        &self.opts
    }

    /// An interpreter for one call, with fresh per-call globals.
    pub fn take(&self) -> Result<Vm, ScriptError> {
        if let Some(e) = &self.unreadable {
            return Err(e.clone());
        }
        let pooled = if self.opts.live {
            None
        } else {
            self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()
        };
        let vm = match pooled {
            Some(vm) => vm,
            None => Vm::create(&self.opts)?,
        };
        vm.begin(self.limit)
            .map_err(|e| ScriptError::from_lua(&e))?;
        Ok(vm)
    }

    /// Gives an interpreter back after a call.
    pub fn give(&self, vm: Vm) {
        if self.opts.live {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < self.max_idle {
            idle.push(vm);
        }
    }
}

impl Vm {
    fn create(opts: &LuaOptions) -> Result<Self, ScriptError> {
        Self::build(opts).map_err(|e| ScriptError::from_lua(&e))
    }

    fn build(opts: &LuaOptions) -> mlua::Result<Self> {
        // Without `allow_open_libs` only libraries that cannot reach outside the process
        // (KrakenD opens none at all there; these are a superset that breaks no script).
        let libs = if opts.allow_open_libs {
            StdLib::ALL_SAFE
        } else {
            StdLib::STRING | StdLib::TABLE | StdLib::MATH
        };
        let lua = Lua::new_with(libs, mlua::LuaOptions::new())?;
        lua.set_memory_limit(MEMORY_LIMIT)?;
        let globals = lua.globals();
        if !opts.allow_open_libs {
            for name in ["dofile", "loadfile"] {
                globals.set(name, LuaValue::Nil)?;
            }
        }
        register_globals(&lua)?;
        lua.set_hook(
            HookTriggers::new().every_nth_instruction(CHECK_EVERY),
            |lua, _| match lua.app_data_ref::<Deadline>() {
                Some(d) if Instant::now() >= d.0 => Err(mlua::Error::runtime(
                    "lua: the script ran out of time and was stopped",
                )),
                _ => Ok(VmState::Continue),
            },
        )?;
        // Sources run without a deadline but under the memory limit and the hook below.
        lua.set_app_data(Deadline(Instant::now() + Duration::from_secs(10)));
        for source in &opts.sources {
            let code = match (&source.code, opts.live) {
                (Some(code), false) => code.to_string(),
                _ => std::fs::read_to_string(&source.path)
                    .map_err(|_| mlua::Error::runtime(unreadable(&source.path)))?,
            };
            lua.load(code)
                .set_name(format!("@{}", source.path))
                .exec()?;
        }
        let compile = |name: &str, code: &Option<String>| -> mlua::Result<Option<Function>> {
            code.as_ref()
                .map(|c| {
                    lua.load(c.as_str())
                        .set_name(format!("={name}"))
                        .into_function()
                })
                .transpose()
        };
        let pre = compile("pre-script", &opts.pre)?;
        let post = compile("post-script", &opts.post)?;
        Ok(Self { lua, pre, post })
    }

    /// Fresh globals for `pre` and `post`, and the call's deadline.
    fn begin(&self, limit: Duration) -> mlua::Result<()> {
        let env = self.lua.create_table()?;
        let meta = self.lua.create_table()?;
        meta.set("__index", self.lua.globals())?;
        env.set_metatable(Some(meta))?;
        for f in [&self.pre, &self.post].into_iter().flatten() {
            f.set_environment(env.clone())?;
        }
        self.lua.set_app_data(Deadline(Instant::now() + limit));
        Ok(())
    }

    /// Runs `pre` over `request` (nothing to do without `pre`).
    pub fn pre(&self, request: &RequestHandle) -> Result<(), ScriptError> {
        self.lua.set_app_data(request.clone());
        run(&self.pre)
    }

    /// Runs `pre` over the client request (`modifier/lua-endpoint`).
    pub fn pre_client(&self, ctx: &CtxHandle) -> Result<(), ScriptError> {
        self.lua.set_app_data(ctx.clone());
        run(&self.pre)
    }

    /// Runs `post` over `response`.
    pub fn post(&self, response: &ResponseHandle) -> Result<(), ScriptError> {
        self.lua.set_app_data(response.clone());
        run(&self.post)
    }
}

/// KrakenD's message for a source it cannot load.
fn unreadable(path: &str) -> String {
    format!("lua: unable to load required source {path}")
}

fn run(f: &Option<Function>) -> Result<(), ScriptError> {
    match f {
        Some(f) => f.call::<()>(()).map_err(|e| ScriptError::from_lua(&e)),
        None => Ok(()),
    }
}

/// `custom_error`, `luaTable`, `luaList`, `luaNil`, and the `request`, `response` and `ctx`
/// tables whose `load()` returns the current call's objects.
fn register_globals(lua: &Lua) -> mlua::Result<()> {
    crate::lua::error::register(lua)?;
    crate::lua::table::register(lua)?;
    crate::lua::http::register(lua)?;
    let globals = lua.globals();
    globals.set("request", loader::<RequestHandle>(lua, "request expected")?)?;
    globals.set(
        "response",
        loader::<ResponseHandle>(lua, "response expected")?,
    )?;
    globals.set("ctx", loader::<CtxHandle>(lua, "ctx expected")?)
}

/// A table whose `load()` returns the current call's `T` (set as app data for the call).
fn loader<T>(lua: &Lua, missing: &'static str) -> mlua::Result<mlua::Table>
where
    T: mlua::UserData + Clone + Send + Sync + 'static,
{
    let table = lua.create_table()?;
    table.set(
        "load",
        lua.create_function(move |lua, ()| {
            lua.app_data_ref::<T>()
                .map(|h| h.clone())
                .ok_or_else(|| mlua::Error::runtime(missing))
        })?,
    )?;
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::namespaces::lua::LuaSource;
    use crate::proxy::testing::request;

    fn opts(pre: &str) -> LuaOptions {
        LuaOptions {
            sources: vec![LuaSource {
                path: "lib.lua".into(),
                code: Some("function greet(r) r:headers('X-Hello', 'world') end".into()),
                at: "s".into(),
            }],
            pre: Some(pre.into()),
            ..Default::default()
        }
    }

    #[test]
    fn sources_pre_and_pool_reuse() {
        let s = Script::new(
            &opts("greet(request.load()); leaked = 1"),
            Duration::from_secs(1),
        );
        let vm = s.take().unwrap();
        let r = RequestHandle::new(&request(), None);
        vm.pre(&r).unwrap();
        let mut out = request();
        r.apply(&mut out, None);
        assert_eq!(out.headers["x-hello"], "world");
        s.give(vm);
        // The pooled interpreter is reused, and globals a call set do not leak into the next.
        let vm = s.take().unwrap();
        assert_eq!(s.idle.lock().unwrap().len(), 0);
        let leaked: LuaValue = vm.lua.globals().get("leaked").unwrap();
        assert!(leaked.is_nil());
    }

    #[test]
    fn safe_libraries_only_unless_allowed() {
        let probe = "assert(string.upper('a') == 'A' and math.floor(1.5) == 1 and table.concat({'x'}) == 'x')
                     assert(io == nil and os == nil and dofile == nil and loadfile == nil, 'open')";
        let s = Script::new(&opts(probe), Duration::from_secs(1));
        s.take()
            .unwrap()
            .pre(&RequestHandle::new(&request(), None))
            .unwrap();
        let mut open = opts("assert(io ~= nil and os ~= nil and os.time() > 0)");
        open.allow_open_libs = true;
        let s = Script::new(&open, Duration::from_secs(1));
        s.take()
            .unwrap()
            .pre(&RequestHandle::new(&request(), None))
            .unwrap();
    }

    #[test]
    fn endless_scripts_are_stopped_at_the_deadline() {
        let s = Script::new(&opts("while true do end"), Duration::from_millis(50));
        let started = Instant::now();
        let e = s
            .take()
            .unwrap()
            .pre(&RequestHandle::new(&request(), None))
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(e.status(), 500);
        assert!(e.message.contains("ran out of time"), "{}", e.message);
    }

    #[test]
    fn runaway_memory_is_an_error_not_a_crash() {
        let s = Script::new(
            &opts("local t = {} for i = 1, 1e6 do t[i] = string.rep('x', 1048576) .. i end"),
            Duration::from_secs(20),
        );
        let e = s
            .take()
            .unwrap()
            .pre(&RequestHandle::new(&request(), None))
            .unwrap_err();
        assert_eq!(e.status(), 500);
    }

    #[test]
    fn an_unreadable_source_fails_every_call() {
        let o = LuaOptions {
            sources: vec![LuaSource {
                path: "gone.lua".into(),
                code: None,
                at: "s".into(),
            }],
            pre: Some("x = 1".into()),
            ..Default::default()
        };
        let e = Script::new(&o, Duration::from_secs(1))
            .take()
            .err()
            .unwrap();
        assert_eq!(
            e,
            ScriptError::internal("lua: unable to load required source gone.lua")
        );
    }

    #[test]
    fn live_sources_are_read_on_every_call() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("live.lua");
        std::fs::write(&file, "function v() return 'one' end").unwrap();
        let o = LuaOptions {
            sources: vec![LuaSource {
                path: file.to_str().unwrap().into(),
                code: None,
                at: "s".into(),
            }],
            pre: Some("request.load():headers('X-V', v())".into()),
            live: true,
            ..Default::default()
        };
        let s = Script::new(&o, Duration::from_secs(1));
        let value = |s: &Script| {
            let r = RequestHandle::new(&request(), None);
            let vm = s.take().unwrap();
            vm.pre(&r).unwrap();
            s.give(vm);
            let mut out = request();
            r.apply(&mut out, None);
            out.headers["x-v"].to_str().unwrap().to_string()
        };
        assert_eq!(value(&s), "one");
        std::fs::write(&file, "function v() return 'two' end").unwrap();
        assert_eq!(value(&s), "two");
        std::fs::remove_file(&file).unwrap();
        let e = s
            .take()
            .err()
            .expect("a missing live source fails the call");
        assert!(
            e.message.contains("unable to load required source"),
            "{}",
            e.message
        );
    }
}
