//! The one description of the facts a rule reads: every property and method of the views
//! (`Window`, `Client`, `Manager`, `Account`, `Contract`, `Kpis`, `Kpi`), written once in the
//! `views!` table below.
//!
//! From each row the macro generates both the Rhai registration (a property getter, a
//! method or an indexer on the view type) and the method of the WIT resource of
//! `bonusrun:rules@0.2.3` (`plugins/wit/v0.2/bonusrun.wit`, interface `facts`) that the host
//! implements for plugins. If the WIT and the table disagree on a name, an argument or a
//! type, the host does not compile; the table also feeds [`FACTS`], which the contract test
//! (`tests/contract.rs`) compares with rhai's metadata, the WIT file and the API tables of
//! docs/rule-packs.md and docs/plugins.md.
//!
//! A view is an `Arc` of the run's context and a position: cloning is cheap, nothing can be
//! written back. A plugin's handle is a slot of the store's arena (`Views` in
//! `host/rules/wasm/v02.rs`) holding the same position.

use super::api::{Context, KeyDecision, KpiResult};
use super::wasm::v02::{wit, Views};
use super::wasm::PluginState;
use crate::facts::{Window, CURRENT, PREVIOUS, YEAR_AGO};
use crate::pack::windows::Dates;
use crate::period::{Date, Period};
use rhai::{Array, Dynamic, Engine, EvalAltResult, ImmutableString, INT};
use rust_decimal::Decimal;
use std::sync::Arc;
use wasmtime::component::Resource;

type Res<T> = Result<T, Box<EvalAltResult>>;

/// How a fact is reached: a property (`c.revenue_share`), a method (`m.plan("margin")`) or an
/// indexer (`kpis["margin"]`). In WIT every fact is a method of the resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// A Rhai property getter.
    Get,
    /// A Rhai method.
    Call,
    /// The Rhai indexer; WIT method `get`.
    Index,
}

/// One fact of one view, for the contract test and "did you mean" hints.
#[derive(Clone, Copy, Debug)]
pub struct FactRow {
    /// The Rhai type name of the view (`Window`); the WIT resource is its lowercase.
    pub view: &'static str,
    /// The Rhai name (`year_ago`); the WIT name is its kebab-case (`year-ago`).
    pub name: &'static str,
    /// How a script reaches it.
    pub access: Access,
    /// Arguments besides the view (0 or 1, a string).
    pub args: usize,
    /// The type, in one word: `decimal`, `count`, `text`, `Window`, `[Account]`, ...
    pub ty: &'static str,
}

/// A value a fact gives: how it looks to Rhai and how it crosses to a WIT plugin.
pub(crate) trait Fact<C: ?Sized>: Sized {
    /// The type a script receives.
    type Rhai: rhai::Variant + Clone;
    /// The type the WIT method returns.
    type Wit;
    /// The type in one word, for [`FactRow::ty`].
    const WORD: &'static str;
    /// As a script sees it.
    fn rhai(self, ctx: &Arc<C>) -> Self::Rhai;
    /// As a plugin receives it (a view becomes a handle in the arena).
    fn wit(self, views: &mut Views) -> wasmtime::Result<Self::Wit>;
}

/// The part of a plugin store's views a view type reads.
pub(crate) trait ViewCx {
    fn of(views: &Views) -> &Self;
}

impl ViewCx for Context {
    fn of(views: &Views) -> &Context {
        &views.ctx
    }
}

impl ViewCx for Vec<KpiResult> {
    fn of(views: &Views) -> &Vec<KpiResult> {
        &views.kpis
    }
}

/// A view type's WIT resource: which arena slots hold it.
pub(crate) trait Handle: 'static {
    /// The position the view holds.
    type At: Copy;
    /// The WIT resource name, for messages.
    const NAME: &'static str;
    fn slot(at: Self::At) -> Slot;
    fn at(slot: Slot) -> Option<Self::At>;
}

macro_rules! scalar_fact {
    ($t:ty, $rhai:ty, $wit:ty, $word:literal, |$s:ident| $to_rhai:expr, |$w:ident| $to_wit:expr) => {
        impl<C: ?Sized> Fact<C> for $t {
            type Rhai = $rhai;
            type Wit = $wit;
            const WORD: &'static str = $word;
            fn rhai(self, _: &Arc<C>) -> $rhai {
                let $s = self;
                $to_rhai
            }
            fn wit(self, _: &mut Views) -> wasmtime::Result<$wit> {
                let $w = self;
                Ok($to_wit)
            }
        }
    };
}

scalar_fact!(Decimal, Decimal, wit::Decimal, "decimal", |d| d, |d| {
    wit::to_wit(d)
});
scalar_fact!(
    u64,
    INT,
    u64,
    "count",
    |n| INT::try_from(n).unwrap_or(INT::MAX),
    |n| n
);
scalar_fact!(i64, INT, i64, "integer", |n| n, |n| n);
scalar_fact!(bool, bool, bool, "flag", |b| b, |b| b);
scalar_fact!(String, ImmutableString, String, "text", |s| s.into(), |s| s);
scalar_fact!(
    Date,
    ImmutableString,
    String,
    "date",
    |d| d.to_string().into(),
    |d| d.to_string()
);
scalar_fact!(
    Option<Date>,
    Dynamic,
    Option<String>,
    "date or ()",
    |d| match d {
        Some(d) => Dynamic::from(ImmutableString::from(d.to_string())),
        None => Dynamic::UNIT,
    },
    |d| d.map(|d| d.to_string())
);
scalar_fact!(
    Option<Decimal>,
    Dynamic,
    Option<wit::Decimal>,
    "decimal or ()",
    |d| d.map(Dynamic::from_decimal).unwrap_or(Dynamic::UNIT),
    |d| d.map(wit::to_wit)
);
scalar_fact!(
    Vec<String>,
    Array,
    Vec<String>,
    "[text]",
    |v| v
        .into_iter()
        .map(|s| Dynamic::from(ImmutableString::from(s)))
        .collect(),
    |v| v
);

/// Which window a `Window` view shows: whose, and which of [`CURRENT`], [`PREVIOUS`],
/// [`YEAR_AGO`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WinRef {
    /// A client's own sales.
    Client(u32, usize),
    /// One client's sales with one manager.
    Account(u32, usize),
    /// A manager's sales.
    Manager(u32, usize),
    /// A manager's sales to key clients.
    ManagerKey(u32, usize),
    /// A manager's team's sales (the manager's and everyone's below).
    Team(u32, usize),
    /// The whole company's sales.
    Company(usize),
    /// A manager's late sales: dated in the closed previous period, unseen when it was paid.
    ManagerLate(u32),
}

/// A client (index into the dataset's clients).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAt(pub u32);
/// A manager (index into the dataset's managers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ManagerAt(pub u32);
/// An account (index into the facts' accounts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccountAt(pub u32);
/// A contract (index into the dataset's contracts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContractAt(pub u32);
/// A manager's KPI results as a whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KpisAt;
/// One KPI result (index in `[[kpis]]` order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KpiAt(pub usize);

/// Generates the views, their Rhai registration, their WIT resources and [`FACTS`] from one
/// table. A row is `get name -> Type = |cx, at| ...;` (a property), `call name(arg) -> Type`
/// (a method, the argument a string) or `index get(arg) -> Type` (the indexer). The
/// accessor returns `Result<Type, String>`; the message reaches the user as the rule's error.
macro_rules! views {
    ($(
        $(#[$doc:meta])*
        $rhai:literal $view:ident($cx:ty, $at:ty) $h:ident $host:ident $wit_name:literal {
            $( $access:ident $name:ident $(($arg:ident))? -> $ty:ty = $body:expr; )*
        }
    )*) => {
        $(
            $(#[$doc])*
            #[derive(Clone)]
            pub struct $view {
                pub(crate) ctx: Arc<$cx>,
                pub(crate) at: $at,
            }

            impl $view {
                /// The view of `at` in `ctx`.
                pub fn new(ctx: Arc<$cx>, at: $at) -> $view {
                    $view { ctx, at }
                }
            }

            #[doc = concat!("The WIT resource `", $wit_name, "`: an arena slot holding a `", $rhai, "` view.")]
            pub enum $h {}

            impl Handle for $h {
                type At = $at;
                const NAME: &'static str = $wit_name;
                fn slot(at: $at) -> Slot {
                    Slot::$h(at)
                }
                fn at(slot: Slot) -> Option<$at> {
                    match slot {
                        Slot::$h(at) => Some(at),
                        _ => None,
                    }
                }
            }

            impl Fact<$cx> for $at {
                type Rhai = $view;
                type Wit = Resource<$h>;
                const WORD: &'static str = $rhai;
                fn rhai(self, ctx: &Arc<$cx>) -> $view {
                    $view { ctx: ctx.clone(), at: self }
                }
                fn wit(self, views: &mut Views) -> wasmtime::Result<Resource<$h>> {
                    views.lend::<$h>(self)
                }
            }

            impl Fact<$cx> for Vec<$at> {
                type Rhai = Array;
                type Wit = Vec<Resource<$h>>;
                const WORD: &'static str = concat!("[", $rhai, "]");
                fn rhai(self, ctx: &Arc<$cx>) -> Array {
                    self.into_iter().map(|at| Dynamic::from(at.rhai(ctx))).collect()
                }
                fn wit(self, views: &mut Views) -> wasmtime::Result<Vec<Resource<$h>>> {
                    self.into_iter().map(|at| views.lend::<$h>(at)).collect()
                }
            }

            impl wit::facts::$host for PluginState {
                $( views!(@wit $access $name [$($arg)?] $cx, $at, $h, $ty, $body); )*

                fn drop(&mut self, _: Resource<$h>) -> wasmtime::Result<()> {
                    // Handles are arena slots that die with their call; nothing to free.
                    Ok(())
                }
            }
        )*

        /// The arena slot of a plugin handle: which view it holds.
        #[derive(Clone, Copy, Debug)]
        pub(crate) enum Slot {
            $( $h($at), )*
        }

        /// Registers the view types and their facts on a Rhai engine.
        pub(crate) fn register(engine: &mut Engine) {
            $(
                engine.register_type_with_name::<$view>($rhai);
                $( views!(@rhai engine $access $name [$($arg)?] $view, $cx, $at, $ty, $body); )*
            )*
            register_to_string(engine);
        }

        /// Every fact of every view, in table order.
        pub const FACTS: &[FactRow] = &[
            $( $( FactRow {
                view: $rhai,
                name: stringify!($name),
                access: views!(@access $access),
                args: <[&str]>::len(&[$(stringify!($arg))?]),
                ty: <$ty as Fact<$cx>>::WORD,
            }, )* )*
        ];
    };

    (@access get) => { Access::Get };
    (@access call) => { Access::Call };
    (@access index) => { Access::Index };

    (@rhai $e:ident get $name:ident [] $view:ident, $cx:ty, $at:ty, $ty:ty, $body:expr) => {
        $e.register_get(stringify!($name), |v: &mut $view| -> Res<<$ty as Fact<$cx>>::Rhai> {
            let f: fn(&$cx, $at) -> Result<$ty, String> = $body;
            f(&v.ctx, v.at).map(|x| x.rhai(&v.ctx)).map_err(Into::into)
        });
    };
    (@rhai $e:ident call $name:ident [] $view:ident, $cx:ty, $at:ty, $ty:ty, $body:expr) => {
        $e.register_fn(stringify!($name), |v: &mut $view| -> Res<<$ty as Fact<$cx>>::Rhai> {
            let f: fn(&$cx, $at) -> Result<$ty, String> = $body;
            f(&v.ctx, v.at).map(|x| x.rhai(&v.ctx)).map_err(Into::into)
        });
    };
    (@rhai $e:ident call $name:ident [$arg:ident] $view:ident, $cx:ty, $at:ty, $ty:ty, $body:expr) => {
        $e.register_fn(
            stringify!($name),
            |v: &mut $view, $arg: ImmutableString| -> Res<<$ty as Fact<$cx>>::Rhai> {
                let f: fn(&$cx, $at, &str) -> Result<$ty, String> = $body;
                f(&v.ctx, v.at, &$arg).map(|x| x.rhai(&v.ctx)).map_err(Into::into)
            },
        );
    };
    (@rhai $e:ident index $name:ident [$arg:ident] $view:ident, $cx:ty, $at:ty, $ty:ty, $body:expr) => {
        $e.register_indexer_get(
            |v: &mut $view, $arg: ImmutableString| -> Res<<$ty as Fact<$cx>>::Rhai> {
                let f: fn(&$cx, $at, &str) -> Result<$ty, String> = $body;
                f(&v.ctx, v.at, &$arg).map(|x| x.rhai(&v.ctx)).map_err(Into::into)
            },
        );
    };

    (@wit $access:ident $name:ident [] $cx:ty, $at:ty, $h:ident, $ty:ty, $body:expr) => {
        fn $name(&mut self, this: Resource<$h>) -> wasmtime::Result<<$ty as Fact<$cx>>::Wit> {
            let views = self.views()?;
            let at = views.at::<$h>(&this, stringify!($name))?;
            let f: fn(&$cx, $at) -> Result<$ty, String> = $body;
            let value = f(<$cx as ViewCx>::of(views), at)
                .map_err(|m| views.fault::<$h>(stringify!($name), m))?;
            <$ty as Fact<$cx>>::wit(value, views)
        }
    };
    (@wit $access:ident $name:ident [$arg:ident] $cx:ty, $at:ty, $h:ident, $ty:ty, $body:expr) => {
        fn $name(
            &mut self,
            this: Resource<$h>,
            $arg: String,
        ) -> wasmtime::Result<<$ty as Fact<$cx>>::Wit> {
            let views = self.views()?;
            let at = views.at::<$h>(&this, stringify!($name))?;
            let f: fn(&$cx, $at, &str) -> Result<$ty, String> = $body;
            let value = f(<$cx as ViewCx>::of(views), at, &$arg)
                .map_err(|m| views.fault::<$h>(stringify!($name), m))?;
            <$ty as Fact<$cx>>::wit(value, views)
        }
    };
}

views! {
    /// `Window`: sales totals over one period.
    "Window" WindowView(Context, WinRef) WindowH HostWindow "window" {
        get revenue -> Decimal = |cx, at| Ok(window(cx, at).revenue);
        get cost -> Decimal = |cx, at| Ok(window(cx, at).cost);
        get margin -> Decimal = |cx, at| Ok(window(cx, at).margin());
        get margin_rate -> Decimal = |cx, at| Ok(margin_rate(window(cx, at)));
        get quantity -> Decimal = |cx, at| Ok(window(cx, at).quantity);
        get returns -> Decimal = |cx, at| Ok(window(cx, at).returns);
        get lines -> u64 = |cx, at| Ok(window(cx, at).lines);
        get return_lines -> u64 = |cx, at| Ok(window(cx, at).return_lines);
        get categories -> u64 = |cx, at| Ok(window(cx, at).categories.len() as u64);
        get products -> u64 = |cx, at| Ok(window(cx, at).products.len() as u64);
        get category_names -> Vec<String> = |cx, at| Ok(category_names(cx, at));
        call bought(category) -> bool = |cx, at, category| Ok(bought(cx, at, category));
        get first_date -> Option<Date> = |cx, at| Ok(window(cx, at).first);
        get last_date -> Option<Date> = |cx, at| Ok(window(cx, at).last);
        get period -> String = |cx, at| Ok(dates(cx, at).label);
        get start -> Date = |cx, at| Ok(dates(cx, at).start);
        get end -> Date = |cx, at| Ok(dates(cx, at).end.add_days(-1));
        call measure(name) -> Decimal = |cx, at, name| measure(cx, at, name);
    }

    /// `Client`.
    "Client" ClientView(Context, ClientAt) ClientH HostClient "client" {
        get id -> String = |cx, at| Ok(cx.data.clients[at.0 as usize].id.clone());
        get name -> String = |cx, at| Ok(cx.data.clients[at.0 as usize].name.clone());
        get industry -> String = |cx, at| Ok(cx.data.clients[at.0 as usize].industry.clone());
        get region -> String = |cx, at| Ok(cx.data.clients[at.0 as usize].region.clone());
        get since -> Option<Date> = |cx, at| Ok(cx.data.clients[at.0 as usize].since);
        get years -> i64 = |cx, at| Ok(years(cx, at));
        get market_share -> Decimal = |cx, at| Ok(cx.data.clients[at.0 as usize].market_share);
        get strategic -> bool = |cx, at| Ok(cx.data.clients[at.0 as usize].strategic);
        get manager_id -> String = |cx, at| Ok(manager_id(cx, at));
        get first_purchase -> Option<Date> = |cx, at| Ok(cx.facts.clients[at.0 as usize].first_purchase);
        get last_purchase -> Option<Date> = |cx, at| Ok(cx.facts.clients[at.0 as usize].last_purchase);
        get is_new -> bool = |cx, at| Ok(is_new(cx, at.0));
        get revenue_share -> Decimal = |cx, at| Ok(cx.facts.clients[at.0 as usize].revenue_share);
        get margin_share -> Decimal = |cx, at| Ok(cx.facts.clients[at.0 as usize].margin_share);
        get cur -> WinRef = |_, at| Ok(WinRef::Client(at.0, CURRENT));
        get prev -> WinRef = |_, at| Ok(WinRef::Client(at.0, PREVIOUS));
        get year_ago -> WinRef = |_, at| Ok(WinRef::Client(at.0, YEAR_AGO));
        get company -> WinRef = |_, _| Ok(WinRef::Company(CURRENT));
        get key -> bool = |cx, at| Ok(decision(cx, at.0)?.key);
        get tier -> String = |cx, at| Ok(decision(cx, at.0)?.tier.clone());
        get score -> Decimal = |cx, at| Ok(decision(cx, at.0)?.score);
        get reasons -> Vec<String> = |cx, at| Ok(decision(cx, at.0)?.reasons.clone());
        call extra(column) -> String = |cx, at, column| client_extra(cx, at).text(column);
        call extra_number(column) -> Decimal = |cx, at, column| client_extra(cx, at).number(column);
        call extra_flag(column) -> bool = |cx, at, column| client_extra(cx, at).flag(column);
        call has_extra(column) -> bool = |cx, at, column| Ok(client_extra(cx, at).has(column));
        call window(name) -> WinRef = |cx, at, name| Ok(WinRef::Client(at.0, named(cx, name, false)?[0]));
        call windows(name) -> Vec<WinRef> = |cx, at, name| Ok(named(cx, name, true)?.into_iter().map(|w| WinRef::Client(at.0, w)).collect());
    }

    /// `Manager`.
    "Manager" ManagerView(Context, ManagerAt) ManagerH HostManager "manager" {
        get id -> String = |cx, at| Ok(cx.data.managers[at.0 as usize].id.clone());
        get name -> String = |cx, at| Ok(cx.data.managers[at.0 as usize].name.clone());
        get target_bonus -> Decimal = |cx, at| Ok(cx.data.managers[at.0 as usize].target_bonus);
        get start_date -> Option<Date> = |cx, at| Ok(cx.data.managers[at.0 as usize].start);
        get end_date -> Option<Date> = |cx, at| Ok(cx.data.managers[at.0 as usize].end);
        get days_active -> u64 = |cx, at| Ok(days(cx, at).0 as u64);
        get period_days -> u64 = |cx, at| Ok(days(cx, at).1 as u64);
        get proration -> Decimal = |cx, at| Ok(proration(cx, at));
        get period -> String = |cx, _| Ok(cx.facts.period().to_string());
        get cur -> WinRef = |_, at| Ok(WinRef::Manager(at.0, CURRENT));
        get prev -> WinRef = |_, at| Ok(WinRef::Manager(at.0, PREVIOUS));
        get year_ago -> WinRef = |_, at| Ok(WinRef::Manager(at.0, YEAR_AGO));
        get key_cur -> WinRef = |cx, at| key_window(cx, at, CURRENT);
        get key_prev -> WinRef = |cx, at| key_window(cx, at, PREVIOUS);
        get key_year_ago -> WinRef = |cx, at| key_window(cx, at, YEAR_AGO);
        get company -> WinRef = |_, _| Ok(WinRef::Company(CURRENT));
        get client_count -> u64 = |cx, at| Ok(cx.facts.managers[at.0 as usize].client_count);
        get key_client_count -> u64 = |cx, at| Ok(key_client_count(cx, at));
        get largest_client_id -> String = |cx, at| Ok(largest_client_id(cx, at));
        get largest_client_share -> Decimal = |cx, at| Ok(cx.facts.managers[at.0 as usize].largest_client_share);
        get accounts -> Vec<AccountAt> = |cx, at| Ok(accounts(cx, at));
        get contracts -> Vec<ContractAt> = |cx, at| Ok(contracts(cx, at));
        call plan(kpi) -> Option<Decimal> = |cx, at, kpi| Ok(plan(cx, at, kpi));
        call has_plan(kpi) -> bool = |cx, at, kpi| Ok(plan(cx, at, kpi).is_some());
        call extra(column) -> String = |cx, at, column| manager_extra(cx, at).text(column);
        call extra_number(column) -> Decimal = |cx, at, column| manager_extra(cx, at).number(column);
        call extra_flag(column) -> bool = |cx, at, column| manager_extra(cx, at).flag(column);
        call has_extra(column) -> bool = |cx, at, column| Ok(manager_extra(cx, at).has(column));
        get has_ledger -> bool = |cx, _| Ok(cx.carry.attached);
        get paid_ytd -> Decimal = |cx, at| ledger_ytd(cx, at, |m| &m.paid);
        get computed_ytd -> Decimal = |cx, at| ledger_ytd(cx, at, |m| &m.computed);
        call paid(period) -> Option<Decimal> = |cx, at, period| paid(cx, at, period);
        get draw_balance -> Decimal = |cx, at| Ok(history(cx, at).map_or(Decimal::ZERO, |h| h.draw_balance));
        call value_ytd(kpi) -> Decimal = |cx, at, kpi| kpi_ytd(cx, at, kpi, false);
        call target_ytd(kpi) -> Decimal = |cx, at, kpi| kpi_ytd(cx, at, kpi, true);
        call contribution_ytd(kpi) -> Decimal = |cx, at, kpi| contribution_ytd(cx, at, kpi);
        get late -> WinRef = |_, at| Ok(WinRef::ManagerLate(at.0));
        call window(name) -> WinRef = |cx, at, name| Ok(WinRef::Manager(at.0, named(cx, name, false)?[0]));
        call windows(name) -> Vec<WinRef> = |cx, at, name| Ok(named(cx, name, true)?.into_iter().map(|w| WinRef::Manager(at.0, w)).collect());
        get reports_to -> String = |cx, at| Ok(reports_to(cx, at));
        get reports -> Vec<ManagerAt> = |cx, at| Ok(cx.facts.managers[at.0 as usize].reports.iter().map(|&m| ManagerAt(m)).collect());
        get team_size -> u64 = |cx, at| Ok(cx.facts.managers[at.0 as usize].team_size.max(1));
        get team_cur -> WinRef = |_, at| Ok(WinRef::Team(at.0, CURRENT));
        get team_prev -> WinRef = |_, at| Ok(WinRef::Team(at.0, PREVIOUS));
        get team_year_ago -> WinRef = |_, at| Ok(WinRef::Team(at.0, YEAR_AGO));
        call team_window(name) -> WinRef = |cx, at, name| Ok(WinRef::Team(at.0, named(cx, name, false)?[0]));
        call team_windows(name) -> Vec<WinRef> = |cx, at, name| Ok(named(cx, name, true)?.into_iter().map(|w| WinRef::Team(at.0, w)).collect());
    }

    /// `Account`: one client as seen from one manager.
    "Account" AccountView(Context, AccountAt) AccountH HostAccount "account" {
        get client -> ClientAt = |cx, at| Ok(ClientAt(account_client(cx, at)));
        get client_id -> String = |cx, at| Ok(cx.data.clients[account_client(cx, at) as usize].id.clone());
        get key -> bool = |cx, at| Ok(decision(cx, account_client(cx, at))?.key);
        get cur -> WinRef = |_, at| Ok(WinRef::Account(at.0, CURRENT));
        get prev -> WinRef = |_, at| Ok(WinRef::Account(at.0, PREVIOUS));
        get year_ago -> WinRef = |_, at| Ok(WinRef::Account(at.0, YEAR_AGO));
        call window(name) -> WinRef = |cx, at, name| Ok(WinRef::Account(at.0, named(cx, name, false)?[0]));
        call windows(name) -> Vec<WinRef> = |cx, at, name| Ok(named(cx, name, true)?.into_iter().map(|w| WinRef::Account(at.0, w)).collect());
    }

    /// `Contract`.
    "Contract" ContractView(Context, ContractAt) ContractH HostContract "contract" {
        get id -> String = |cx, at| Ok(cx.data.contracts[at.0 as usize].id.clone());
        get client -> ClientAt = |cx, at| Ok(ClientAt(cx.data.contracts[at.0 as usize].client));
        get client_id -> String = |cx, at| Ok(cx.data.clients[cx.data.contracts[at.0 as usize].client as usize].id.clone());
        get start -> Date = |cx, at| Ok(cx.data.contracts[at.0 as usize].start);
        get end -> Date = |cx, at| Ok(cx.data.contracts[at.0 as usize].end);
        get renewed_on -> Option<Date> = |cx, at| Ok(cx.data.contracts[at.0 as usize].renewed_on);
        get due -> bool = |cx, at| Ok(cx.facts.period().contains(cx.data.contracts[at.0 as usize].end));
        get renewed -> bool = |cx, at| Ok(renewed(cx, at));
        get key -> bool = |cx, at| Ok(decision(cx, cx.data.contracts[at.0 as usize].client)?.key);
    }

    /// `Kpis`: a manager's KPI results, in `[[kpis]]` order, passed to stage bonus.
    "Kpis" KpisView(Vec<KpiResult>, KpisAt) KpisH HostKpis "kpis" {
        index get(id) -> KpiAt = |k, _, id| kpi_index(k, id);
        call list -> Vec<KpiAt> = |k, _| Ok((0..k.len()).map(KpiAt).collect());
        call len -> u64 = |k, _| Ok(k.len() as u64);
    }

    /// `Kpi`: one KPI result.
    "Kpi" KpiView(Vec<KpiResult>, KpiAt) KpiH HostKpi "kpi" {
        get id -> String = |k, at| Ok(k[at.0].id.clone());
        get label -> String = |k, at| Ok(k[at.0].label.clone());
        get weight -> Decimal = |k, at| Ok(k[at.0].weight);
        get value -> Decimal = |k, at| Ok(k[at.0].value);
        get target -> Decimal = |k, at| Ok(k[at.0].target);
        get attainment -> Decimal = |k, at| Ok(k[at.0].attainment);
        get note -> String = |k, at| Ok(k[at.0].note.clone());
    }
}

impl wit::facts::Host for PluginState {}

/// The signatures of the views as rhai's metadata lists them (`get$revenue(_: &mut Window)
/// -> Decimal`, `bought(_: &mut Window, category: ImmutableString) -> bool`, ...), for the
/// contract test.
pub fn rhai_signatures() -> Vec<String> {
    let mut engine = Engine::new_raw();
    register(&mut engine);
    engine.gen_fn_signatures(false)
}

/// The Rhai property names, for "did you mean" hints.
pub fn properties() -> impl Iterator<Item = &'static str> {
    FACTS
        .iter()
        .filter(|f| f.access == Access::Get)
        .map(|f| f.name)
}

/// The Rhai method names of the views.
pub fn methods() -> impl Iterator<Item = &'static str> {
    FACTS
        .iter()
        .filter(|f| f.access == Access::Call)
        .map(|f| f.name)
}

fn window(cx: &Context, at: WinRef) -> &Window {
    let f = &cx.facts;
    match at {
        WinRef::Client(i, w) => &f.clients[i as usize].windows[w],
        WinRef::Account(i, w) => &f.accounts[i as usize].windows[w],
        WinRef::Manager(i, w) => &f.managers[i as usize].windows[w],
        WinRef::ManagerKey(i, w) => &cx.key_windows[i as usize][w],
        WinRef::Team(i, w) => {
            let m = &f.managers[i as usize];
            m.team.get(w).unwrap_or(&m.windows[w])
        }
        WinRef::Company(w) => &f.company[w],
        WinRef::ManagerLate(i) => cx.late.get(i as usize).unwrap_or(&EMPTY_WINDOW),
    }
}

/// The window of a manager without late sales.
static EMPTY_WINDOW: Window = Window {
    revenue: Decimal::ZERO,
    cost: Decimal::ZERO,
    quantity: Decimal::ZERO,
    returns: Decimal::ZERO,
    lines: 0,
    return_lines: 0,
    categories: Vec::new(),
    products: Vec::new(),
    first: None,
    last: None,
    measures: Vec::new(),
};

/// The days a window view covers, and its label.
fn dates(cx: &Context, at: WinRef) -> Dates {
    let plan = &cx.facts.plan;
    let w = match at {
        WinRef::Client(_, w)
        | WinRef::Account(_, w)
        | WinRef::Manager(_, w)
        | WinRef::ManagerKey(_, w)
        | WinRef::Team(_, w)
        | WinRef::Company(w) => w,
        WinRef::ManagerLate(i) => return late_dates(cx, i),
    };
    plan.dates[w].clone()
}

/// A manager's late sales cover the closed periods the ledger saw (the previous period
/// when there are none).
fn late_dates(cx: &Context, manager: u32) -> Dates {
    let previous = Dates::of(cx.facts.periods[PREVIOUS]);
    let seen: Vec<Period> = cx
        .carry
        .manager(&cx.data.managers[manager as usize].id)
        .map(|h| {
            h.seen()
                .filter_map(|s| Period::parse(&s.period).ok())
                .collect()
        })
        .unwrap_or_default();
    match (seen.first(), seen.last()) {
        (Some(&first), Some(&last)) if first != last => Dates {
            label: format!("{first}..{last}"),
            start: first.start_date(),
            end: last.end_date(),
        },
        (Some(&only), _) => Dates::of(only),
        _ => previous,
    }
}

/// Days of the run period in the role, and days of the period.
fn days(cx: &Context, at: ManagerAt) -> (i32, i32) {
    cx.data.managers[at.0 as usize].days_active(cx.facts.period())
}

/// Days in the role over days of the period (1 for the whole period).
fn proration(cx: &Context, at: ManagerAt) -> Decimal {
    let (days, total) = days(cx, at);
    Decimal::from(days)
        .checked_div(Decimal::from(total))
        .unwrap_or(Decimal::ZERO)
}

/// A measure of the pack's `[measures]` over the window.
fn measure(cx: &Context, at: WinRef, name: &str) -> Result<Decimal, String> {
    let measures = &cx.facts.plan.measures;
    let Some(i) = measures.iter().position(|m| m.name == name) else {
        let hint = crate::suggest::did_you_mean(name, measures.iter().map(|m| m.name.as_str()));
        return Err(if measures.is_empty() {
            format!("no measure '{name}': the pack declares no [measures]; declare it in pack.toml, e.g. [measures.{name}] sum = \"amount\"")
        } else {
            let names: Vec<&str> = measures.iter().map(|m| m.name.as_str()).collect();
            format!(
                "no measure '{name}' in the pack's [measures] ({}){hint}",
                names.join(", ")
            )
        });
    };
    if let WinRef::ManagerLate(_) = at {
        return Err(format!(
            "measure '{name}' is not known for late sales, which are the difference of two totals; read it on a window of the sales"
        ));
    }
    // A window without lines has no measures: each is 0.
    Ok(window(cx, at)
        .measures
        .get(i)
        .map_or(Decimal::ZERO, |m| m.value()))
}

/// The windows of the pack's `[windows.NAME]`: one (`window`) or a list (`windows`).
fn named(cx: &Context, name: &str, list: bool) -> Result<Vec<usize>, String> {
    let plan = &cx.facts.plan;
    let Some(n) = plan.named.iter().find(|n| n.name == name) else {
        let hint = crate::suggest::did_you_mean(name, plan.named.iter().map(|n| n.name.as_str()));
        return Err(if plan.named.is_empty() {
            format!("no window '{name}': the pack declares no [windows]; declare it in pack.toml, e.g. [windows.{name}] kind = \"year_to_date\"")
        } else {
            let names: Vec<&str> = plan.named.iter().map(|n| n.name.as_str()).collect();
            format!(
                "no window '{name}' in the pack's [windows] ({}){hint}",
                names.join(", ")
            )
        });
    };
    match (n.list, list) {
        (true, false) => Err(format!("window '{name}' is one window per month of the period: read it with windows(\"{name}\"), a list")),
        (false, true) => Err(format!("window '{name}' is a single window: read it with window(\"{name}\")")),
        _ => Ok((n.first..n.first + n.count).collect()),
    }
}

fn margin_rate(w: &Window) -> Decimal {
    if w.revenue > Decimal::ZERO {
        w.margin().checked_div(w.revenue).unwrap_or_default()
    } else {
        Decimal::ZERO
    }
}

fn category_names(cx: &Context, at: WinRef) -> Vec<String> {
    let names = &cx.facts.categories;
    window(cx, at)
        .categories
        .iter()
        .map(|&c| names[c as usize].clone())
        .collect()
}

fn bought(cx: &Context, at: WinRef, category: &str) -> bool {
    let names = &cx.facts.categories;
    window(cx, at)
        .categories
        .iter()
        .any(|&c| names[c as usize] == category)
}

fn years(cx: &Context, at: ClientAt) -> i64 {
    let end = cx.facts.period().last_date();
    match cx.data.clients[at.0 as usize].since {
        Some(s) if s <= end => s.whole_years_until(end),
        _ => 0,
    }
}

fn manager_id(cx: &Context, at: ClientAt) -> String {
    match cx.facts.clients[at.0 as usize].manager {
        Some(m) => cx.data.managers[m as usize].id.clone(),
        None => String::new(),
    }
}

fn is_new(cx: &Context, client: u32) -> bool {
    let p = cx.facts.period();
    cx.facts.clients[client as usize]
        .first_purchase
        .is_some_and(|d| p.contains(d))
}

fn decision(cx: &Context, client: u32) -> Result<&KeyDecision, String> {
    cx.decisions.get(client as usize).ok_or_else(|| {
        "key-client flags are decided by stage key_clients and are not known while it runs; use the facts instead"
            .to_string()
    })
}

fn key_window(cx: &Context, at: ManagerAt, w: usize) -> Result<WinRef, String> {
    if cx.key_windows.is_empty() {
        return Err("key-client subtotals are known only after stage key_clients".into());
    }
    Ok(WinRef::ManagerKey(at.0, w))
}

fn key_client_count(cx: &Context, at: ManagerAt) -> u64 {
    let f = &cx.facts;
    f.managers[at.0 as usize]
        .accounts
        .iter()
        .filter(|&&a| {
            let acc = &f.accounts[a as usize];
            acc.windows[CURRENT].lines > 0
                && cx.decisions.get(acc.client as usize).is_some_and(|d| d.key)
        })
        .count() as u64
}

fn reports_to(cx: &Context, at: ManagerAt) -> String {
    cx.data.managers[at.0 as usize]
        .reports_to
        .map(|h| cx.data.managers[h as usize].id.clone())
        .unwrap_or_default()
}

fn largest_client_id(cx: &Context, at: ManagerAt) -> String {
    match cx.facts.managers[at.0 as usize].largest_client {
        Some(c) => cx.data.clients[c as usize].id.clone(),
        None => String::new(),
    }
}

fn accounts(cx: &Context, at: ManagerAt) -> Vec<AccountAt> {
    cx.facts.managers[at.0 as usize]
        .accounts
        .iter()
        .map(|&a| AccountAt(a))
        .collect()
}

fn contracts(cx: &Context, at: ManagerAt) -> Vec<ContractAt> {
    cx.data
        .contracts
        .iter()
        .enumerate()
        .filter(|(_, c)| c.manager == at.0)
        .map(|(i, _)| ContractAt(i as u32))
        .collect()
}

fn plan(cx: &Context, at: ManagerAt, kpi: &str) -> Option<Decimal> {
    cx.plans.get(&(at.0, kpi.to_string())).copied()
}

fn history(cx: &Context, at: ManagerAt) -> Option<&crate::ledger::carry::ManagerCarry> {
    cx.carry.manager(&cx.data.managers[at.0 as usize].id)
}

type Amounts = std::collections::BTreeMap<String, Decimal>;

fn ledger_ytd(
    cx: &Context,
    at: ManagerAt,
    pick: fn(&crate::ledger::carry::ManagerCarry) -> &Amounts,
) -> Result<Decimal, String> {
    cx.carry
        .year_to_date(&cx.data.managers[at.0 as usize].id, cx.facts.period(), pick)
        .ok_or_else(|| "the year's paid amounts sum to more than a decimal holds".to_string())
}

fn kpi_ytd(cx: &Context, at: ManagerAt, kpi: &str, target: bool) -> Result<Decimal, String> {
    cx.carry
        .kpi_year_to_date(
            &cx.data.managers[at.0 as usize].id,
            cx.facts.period(),
            kpi,
            target,
        )
        .ok_or_else(|| {
            format!("the year's recorded values of KPI '{kpi}' sum to more than a decimal holds")
        })
}

fn contribution_ytd(cx: &Context, at: ManagerAt, kpi: &str) -> Result<Decimal, String> {
    cx.carry
        .contribution_year_to_date(&cx.data.managers[at.0 as usize].id, cx.facts.period(), kpi)
        .ok_or_else(|| {
            format!("the year's paid lines of KPI '{kpi}' sum to more than a decimal holds")
        })
}

fn paid(cx: &Context, at: ManagerAt, period: &str) -> Result<Option<Decimal>, String> {
    let kind = cx.facts.period().kind();
    let p = crate::period::Period::parse(period)
        .ok()
        .filter(|p| p.kind() == kind)
        .ok_or_else(|| {
            format!(
                "paid: '{period}' is not a {} such as {}",
                kind.name(),
                kind.example()
            )
        })?;
    Ok(history(cx, at).and_then(|h| h.paid.get(&p.to_string()).copied()))
}

fn account_client(cx: &Context, at: AccountAt) -> u32 {
    cx.facts.accounts[at.0 as usize].client
}

fn renewed(cx: &Context, at: ContractAt) -> bool {
    let last = cx.facts.period().last_date();
    cx.data.contracts[at.0 as usize]
        .renewed_on
        .is_some_and(|d| d <= last)
}

fn kpi_index(k: &[KpiResult], id: &str) -> Result<KpiAt, String> {
    match k.iter().position(|r| r.id == id) {
        Some(i) => Ok(KpiAt(i)),
        None => Err(format!(
            "no KPI '{}'{}; the pack declares: {}",
            crate::suggest::shown(id),
            crate::suggest::did_you_mean(id, k.iter().map(|r| r.id.as_str())),
            k.iter()
                .map(|r| r.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// The extra columns of one row of clients.csv or managers.csv.
struct Extras<'a> {
    file: &'static str,
    columns: &'a [String],
    values: &'a [String],
    id: &'a str,
}

fn client_extra(cx: &Context, at: ClientAt) -> Extras<'_> {
    let row = &cx.data.clients[at.0 as usize];
    Extras {
        file: "clients.csv",
        columns: &cx.data.client_extras,
        values: &row.extras,
        id: &row.id,
    }
}

fn manager_extra(cx: &Context, at: ManagerAt) -> Extras<'_> {
    let row = &cx.data.managers[at.0 as usize];
    Extras {
        file: "managers.csv",
        columns: &cx.data.manager_extras,
        values: &row.extras,
        id: &row.id,
    }
}

impl Extras<'_> {
    fn has(&self, column: &str) -> bool {
        self.columns.iter().any(|c| c.eq_ignore_ascii_case(column))
    }

    fn text(&self, column: &str) -> Result<String, String> {
        match self
            .columns
            .iter()
            .position(|c| c.eq_ignore_ascii_case(column))
        {
            Some(i) => Ok(self.values[i].clone()),
            None => Err(format!(
                "{} has no column '{}'; its extra columns are: {}",
                self.file,
                crate::suggest::shown(column),
                if self.columns.is_empty() {
                    "(none)".to_string()
                } else {
                    self.columns.join(", ")
                }
            )),
        }
    }

    fn number(&self, column: &str) -> Result<Decimal, String> {
        let v = self.text(column)?;
        if v.is_empty() {
            return Ok(Decimal::ZERO);
        }
        crate::money::parse_decimal(v.as_bytes()).ok_or_else(|| {
            format!(
                "{} column '{column}' of {} is '{v}', not a number",
                self.file, self.id
            )
        })
    }

    fn flag(&self, column: &str) -> Result<bool, String> {
        let v = self.text(column)?;
        crate::load::parse_flag_text(&v).ok_or_else(|| {
            format!(
                "{} column '{column}' of {} is '{v}', not true or false",
                self.file, self.id
            )
        })
    }
}

/// `to_string` of each view, for `print` and string interpolation in scripts (Rhai only).
fn register_to_string(engine: &mut Engine) {
    engine.register_fn("to_string", |w: &mut WindowView| -> String {
        let win = window(&w.ctx, w.at);
        format!(
            "Window({}: revenue {}, margin {}, lines {})",
            dates(&w.ctx, w.at).label,
            win.revenue,
            win.margin(),
            win.lines
        )
    });
    engine.register_fn("to_string", |c: &mut ClientView| -> String {
        format!("Client({})", c.ctx.data.clients[c.at.0 as usize].id)
    });
    engine.register_fn("to_string", |m: &mut ManagerView| -> String {
        format!("Manager({})", m.ctx.data.managers[m.at.0 as usize].id)
    });
    engine.register_fn("to_string", |a: &mut AccountView| -> String {
        let c = account_client(&a.ctx, a.at);
        format!("Account({})", a.ctx.data.clients[c as usize].id)
    });
    engine.register_fn("to_string", |c: &mut ContractView| -> String {
        let k = &c.ctx.data.contracts[c.at.0 as usize];
        format!("Contract({}: {} to {})", k.id, k.start, k.end)
    });
    engine.register_fn("to_string", |k: &mut KpiView| -> String {
        let r = &k.ctx[k.at.0];
        format!(
            "Kpi({}: value {}, target {}, attainment {})",
            r.id, r.value, r.target, r.attainment
        )
    });
    engine.register_fn("to_string", |k: &mut KpisView| -> String {
        let ids: Vec<&str> = k.ctx.iter().map(|r| r.id.as_str()).collect();
        format!("Kpis({})", ids.join(", "))
    });
}
