//! Elaboration (stap's pass 2): probe points resolved against socktap's
//! tapset, names resolved, types inferred, unread globals given their
//! display at exit, constants folded.

pub mod fold;
pub mod lower;
pub mod types;
pub mod varuse;

use std::collections::HashMap;

use crate::ast::{self, DeclType, Literal};
use crate::diag::{similar, suggest, Diagnostic};
use crate::ir::{self, Expr, HistKind, PVar, Program, Stmt, Ty};
use crate::probes::{self, Point, Resolved};
use crate::source::TokId;

use lower::{Lower, Scope};
use types::{Slot, Types};

/// Who makes a call: a handler or a function (by index).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Caller {
    /// A probe handler.
    Handler(u32),
    /// A script function.
    Func(u32),
}

/// A local variable of a handler or function.
#[derive(Debug, Clone)]
pub struct LocalInfo {
    /// Its name.
    pub name: String,
    /// Its first mention.
    pub tok: TokId,
    /// A parameter's declared type.
    pub declared: Option<DeclType>,
    /// Assigned somewhere.
    pub written: bool,
    /// Read somewhere.
    pub read: bool,
}

/// What elaboration learns about a global.
#[derive(Debug, Clone)]
pub struct GlobalInfo {
    /// Its declaration.
    pub decl: ast::Global,
    /// Its arity (0: scalar) and where that was first seen.
    pub arity: Option<(usize, TokId)>,
    /// The histogram printed from it, and where.
    pub hist: Option<(HistKind, TokId)>,
    /// `@variance`'s bit shift.
    pub shift: Option<u32>,
}

/// The state of one elaboration.
pub struct Elab<'a> {
    /// The script's sources (for warnings' tokens).
    pub sources: &'a crate::source::Sources,
    /// The globals.
    pub globals: Vec<GlobalInfo>,
    /// Globals by name.
    pub global_names: HashMap<String, u32>,
    /// Functions by name and arity.
    pub function_names: HashMap<(String, usize), u32>,
    /// Calls made (for the nesting limit).
    pub calls: Vec<(Caller, u32)>,
    /// Who is being lowered.
    pub current: Caller,
    /// Errors.
    pub errors: Vec<Diagnostic>,
    /// Warnings.
    pub warnings: Vec<Diagnostic>,
}

fn decl_ty(d: DeclType) -> Ty {
    match d {
        DeclType::Long => Ty::Long,
        DeclType::String => Ty::Str,
    }
}

/// The probe variables a handler on these points can read: each with
/// whether every point defines it. `success` is readable on entry probes
/// too (as 0, with a warning), as stap tolerates it.
fn probe_vars(points: &[Resolved]) -> HashMap<&'static str, (PVar, bool)> {
    let per: Vec<Vec<(&'static str, bool)>> = points
        .iter()
        .filter(|r| matches!(r.point, Point::Socket(_) | Point::Netdev(_)))
        .map(|r| probes::variables(&r.point))
        .collect();
    let mut out = HashMap::new();
    for vars in &per {
        for (name, _) in vars {
            if let Some(v) = PVar::from_name(name) {
                let all = per.iter().all(|vs| vs.iter().any(|(n, _)| n == name));
                out.insert(*name, (v, all));
            }
        }
    }
    if points.iter().any(|r| matches!(r.point, Point::Socket(_))) {
        out.entry("success").or_insert((PVar::Success, false));
    }
    out
}

/// Elaborates a parsed script: the program and its warnings, or every
/// error found.
pub fn elaborate(
    script: &ast::Script,
    sources: &crate::source::Sources,
    hz: u64,
) -> Result<(Program, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut e = Elab {
        sources,
        globals: Vec::new(),
        global_names: HashMap::new(),
        function_names: HashMap::new(),
        calls: Vec::new(),
        current: Caller::Handler(0),
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    for g in &script.globals {
        e.global_names
            .insert(g.name.clone(), e.globals.len() as u32);
        e.globals.push(GlobalInfo {
            decl: g.clone(),
            arity: None,
            hist: None,
            shift: None,
        });
    }
    for (i, f) in script.functions.iter().enumerate() {
        let key = (f.name.clone(), f.params.len());
        if e.function_names.insert(key, i as u32).is_some() {
            e.errors.push(Diagnostic::semantic(
                "duplicate function definition",
                Some(f.tok),
            ));
        }
    }

    // Probe points, then handler bodies.
    let mut handlers: Vec<(ir::Handler, Vec<LocalInfo>)> = Vec::new();
    for p in &script.probes {
        let mut points = Vec::new();
        for pp in &p.points {
            match probes::resolve(pp, hz) {
                Ok(r) => {
                    let resolved = !r.is_empty();
                    points.extend(r);
                    if pp.sufficient && resolved {
                        break;
                    }
                }
                Err(d) if pp.optional => e.warnings.push(d),
                Err(d) => e.errors.push(d),
            }
        }
        if points.is_empty() {
            continue;
        }
        let h = handlers.len() as u32;
        e.current = Caller::Handler(h);
        let mut scope = Scope::new(&[], probe_vars(&points), false);
        scope.localize_pvars(&p.body, p.tok);
        let mut lower = Lower {
            elab: &mut e,
            scope,
        };
        let body = lower.block(&p.body).and_then(|mut body| {
            // `probe x if (cond)`: the handler leaves when cond is false.
            for pp in p.points.iter().rev() {
                if let Some(c) = &pp.condition {
                    let c = lower.expr(c)?;
                    let not = Expr::Unary(ast::UnOp::Not, Box::new(c));
                    if let Stmt::Block(v) = &mut body {
                        v.insert(0, Stmt::If(not, Box::new(Stmt::Next), None, p.tok));
                    }
                }
            }
            Ok(body)
        });
        let scope = lower.scope;
        match body {
            Ok(body) => {
                check_locals(&mut e, &scope, &points);
                handlers.push((
                    ir::Handler {
                        points,
                        locals: Vec::new(),
                        pvar_locals: scope.pvar_locals.clone(),
                        body,
                        tok: p.tok,
                        synthetic: false,
                    },
                    scope.locals,
                ));
            }
            Err(d) => e.errors.push(d),
        }
    }
    let mut functions: Vec<(ir::Function, Vec<LocalInfo>)> = Vec::new();
    for (i, f) in script.functions.iter().enumerate() {
        e.current = Caller::Func(i as u32);
        let scope = Scope::new(&f.params, HashMap::new(), true);
        let mut lower = Lower {
            elab: &mut e,
            scope,
        };
        let body = lower.block(&f.body);
        let scope = lower.scope;
        if body.is_ok() {
            check_locals(&mut e, &scope, &[]);
        }
        let body = body.unwrap_or_else(|d| {
            e.errors.push(d);
            Stmt::Block(Vec::new())
        });
        functions.push((
            ir::Function {
                name: f.name.clone(),
                params: f.params.len(),
                locals: Vec::new(),
                ret: None,
                body,
                tok: f.tok,
            },
            scope.locals,
        ));
    }
    if !e.errors.is_empty() {
        return Err(e.errors);
    }
    let types = infer(&mut e, script, &handlers, &functions);
    if !e.errors.is_empty() {
        return Err(e.errors);
    }
    let program = assemble(e.globals, types, handlers, functions, &e.calls);
    Ok((program, e.warnings))
}

/// Warnings and errors about locals: never assigned, and in socket
/// handlers, names that are not the probe's variables.
fn check_locals(e: &mut Elab, scope: &Scope, points: &[Resolved]) {
    let socket = points
        .iter()
        .find(|r| matches!(r.point, Point::Socket(_) | Point::Netdev(_)));
    for l in &scope.locals {
        if l.written || !l.read {
            continue;
        }
        let mut names: Vec<&str> = scope
            .locals
            .iter()
            .map(|x| x.name.as_str())
            .filter(|n| *n != l.name)
            .collect();
        names.extend(e.globals.iter().map(|g| g.decl.name.as_str()));
        if let Some(r) = socket {
            let vars: Vec<&str> = probes::variables(&r.point)
                .iter()
                .map(|(n, _)| *n)
                .collect();
            names.extend(vars.iter().copied());
            let sugs = suggest(&l.name, names, 5);
            e.errors.push(Diagnostic::semantic(
                format!(
                    "unresolved variable '{}' in probe {}{}; its variables: {}",
                    l.name,
                    r.name,
                    similar(&sugs),
                    vars.join(" ")
                ),
                Some(l.tok),
            ));
        } else {
            let sugs = suggest(&l.name, names, 5);
            e.warnings.push(Diagnostic::warning(
                format!(
                    "never-assigned local variable '{}'{}",
                    l.name,
                    similar(&sugs)
                ),
                Some(l.tok),
            ));
        }
    }
}

fn infer(
    e: &mut Elab,
    script: &ast::Script,
    handlers: &[(ir::Handler, Vec<LocalInfo>)],
    functions: &[(ir::Function, Vec<LocalInfo>)],
) -> Types {
    let arities: Vec<usize> = e
        .globals
        .iter()
        .map(|g| g.arity.map_or(0, |a| a.0))
        .collect();
    let hl: Vec<usize> = handlers.iter().map(|h| h.1.len()).collect();
    let fl: Vec<(usize, usize)> = functions.iter().map(|f| (f.1.len(), f.0.params)).collect();
    let mut t = Types::new(e.globals.len(), &arities, &hl, &fl);
    for (i, g) in e.globals.iter().enumerate() {
        match &g.decl.init {
            Some(Literal::Num(_)) => t.set(Slot::Global(i as u32), Ty::Long, g.decl.tok),
            Some(Literal::Str(_)) => t.set(Slot::Global(i as u32), Ty::Str, g.decl.tok),
            None => {}
        }
    }
    for (fi, (f, locals)) in functions.iter().enumerate() {
        let fi = fi as u32;
        for (li, l) in locals.iter().enumerate() {
            if let Some(d) = l.declared {
                t.set(Slot::Local(Caller::Func(fi), li as u32), decl_ty(d), l.tok);
            }
        }
        if let Some(d) = script.functions[fi as usize].ret {
            t.set(Slot::Ret(fi), decl_ty(d), f.tok);
        }
    }
    for (hi, (h, locals)) in handlers.iter().enumerate() {
        for &(v, slot) in &h.pvar_locals {
            t.set(
                Slot::Local(Caller::Handler(hi as u32), slot),
                v.ty(),
                locals[slot as usize].tok,
            );
        }
    }
    loop {
        for (i, (h, _)) in handlers.iter().enumerate() {
            t.body(Caller::Handler(i as u32), &h.body);
        }
        for (i, (f, _)) in functions.iter().enumerate() {
            t.body(Caller::Func(i as u32), &f.body);
        }
        if !t.next_pass() {
            break;
        }
    }
    e.errors.append(&mut t.errors);
    // What is still unknown is an error where it is used.
    let mut unresolved = |tok: TokId| {
        e.errors
            .push(Diagnostic::semantic("unresolved type ", Some(tok)));
    };
    for (hi, (_, locals)) in handlers.iter().enumerate() {
        for (li, l) in locals.iter().enumerate() {
            if t.handler_locals[hi][li].is_none() {
                unresolved(l.tok);
            }
        }
    }
    for (fi, (_, locals)) in functions.iter().enumerate() {
        for (li, l) in locals.iter().enumerate() {
            if t.function_locals[fi][li].is_none() {
                unresolved(l.tok);
            }
        }
    }
    for (gi, g) in e.globals.iter().enumerate() {
        if g.arity.is_none() {
            // Never mentioned: stap elides it.
            e.warnings.push(Diagnostic::warning(
                format!("Eliding unused variable '{}'", g.decl.name),
                Some(g.decl.tok),
            ));
            continue;
        }
        if t.globals[gi].is_none() {
            unresolved(g.arity.map_or(g.decl.tok, |a| a.1));
        }
        for k in &t.keys[gi] {
            if k.is_none() {
                unresolved(g.arity.map_or(g.decl.tok, |a| a.1));
            }
        }
    }
    t
}

fn assemble(
    globals: Vec<GlobalInfo>,
    t: Types,
    handlers: Vec<(ir::Handler, Vec<LocalInfo>)>,
    functions: Vec<(ir::Function, Vec<LocalInfo>)>,
    calls: &[(Caller, u32)],
) -> Program {
    let ty = |x: Option<(Ty, TokId)>| x.map_or(Ty::Long, |x| x.0);
    let globals: Vec<ir::Global> = globals
        .into_iter()
        .enumerate()
        .map(|(i, g)| ir::Global {
            name: g.decl.name.clone(),
            tok: g.decl.tok,
            ty: ty(t.globals[i]),
            keys: t.keys[i].iter().map(|k| ty(*k)).collect(),
            size: g.decl.size,
            wrap: g.decl.wrap,
            hist: g.hist.map(|h| h.0),
            shift: g.shift.unwrap_or(0),
            init: g.decl.init.clone(),
        })
        .collect();
    let functions: Vec<ir::Function> = functions
        .into_iter()
        .enumerate()
        .map(|(i, (mut f, _))| {
            f.locals = t.function_locals[i].iter().map(|l| ty(*l)).collect();
            f.ret = t.rets[i].map(|r| r.0);
            fold::stmt(&mut f.body);
            f
        })
        .collect();
    let mut handlers: Vec<ir::Handler> = handlers
        .into_iter()
        .enumerate()
        .map(|(i, (mut h, _))| {
            h.locals = t.handler_locals[i].iter().map(|l| ty(*l)).collect();
            h
        })
        .collect();
    // stap decides what is read before optimizing: a read in dead code
    // still counts.
    for g in varuse::unread_globals(&globals, &functions, &handlers) {
        handlers.push(varuse::display_handler(g, &globals[g as usize]));
    }
    for h in &mut handlers {
        fold::stmt(&mut h.body);
    }
    let max_nesting = nesting(functions.len(), calls);
    Program {
        globals,
        functions,
        handlers,
        max_nesting,
    }
}

/// stap's MAXNESTING: the deepest static call chain, plus one, plus ten
/// more if any function is recursive.
fn nesting(nfuncs: usize, calls: &[(Caller, u32)]) -> usize {
    let mut edges: Vec<Vec<u32>> = vec![Vec::new(); nfuncs];
    let mut roots = Vec::new();
    for &(from, to) in calls {
        match from {
            Caller::Func(f) => edges[f as usize].push(to),
            Caller::Handler(_) => roots.push(to),
        }
    }
    fn depth(f: u32, edges: &[Vec<u32>], stack: &mut Vec<u32>, recursive: &mut bool) -> usize {
        if stack.contains(&f) {
            *recursive = true;
            return 0;
        }
        stack.push(f);
        let d = 1 + edges[f as usize]
            .iter()
            .map(|&g| depth(g, edges, stack, recursive))
            .max()
            .unwrap_or(0);
        stack.pop();
        d
    }
    let mut recursive = false;
    let deepest = roots
        .iter()
        .map(|&r| depth(r, &edges, &mut Vec::new(), &mut recursive))
        .max()
        .unwrap_or(0);
    deepest + 1 + if recursive { 10 } else { 0 }
}
