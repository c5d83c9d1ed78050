//! What [`TracerBuilder`](crate::TracerBuilder) and
//! [`AggregatorBuilder`](crate::AggregatorBuilder) have in common: the part
//! of their configuration they share, and the macros that write their
//! setters, so that each setter and its documentation exist once.

use crate::backend::LoadSettings;
use crate::filter::Filter;
use crate::tapset::Probe;

/// The configuration both builders hold: which probes, the in-kernel
/// filter, and how to load the programs.
#[derive(Debug, Clone)]
pub(crate) struct Common {
    pub(crate) probes: Vec<Probe>,
    pub(crate) filter: Filter,
    pub(crate) settings: LoadSettings,
}

impl Default for Common {
    fn default() -> Self {
        Common {
            probes: Probe::DEFAULT.to_vec(),
            filter: Filter::default(),
            settings: LoadSettings::default(),
        }
    }
}

/// Writes builder setters that store their argument into a field of the
/// builder and return the builder. Each entry is its documentation, then
/// `name(argument: Type) => field;` (or `=> field.inner;`).
macro_rules! setters {
    ($($(#[$attr:meta])* $name:ident($arg:ident: $ty:ty) => $($field:ident).+;)*) => {
        $(
            $(#[$attr])*
            pub fn $name(mut self, $arg: $ty) -> Self {
                self.$($field).+ = $arg;
                self
            }
        )*
    };
}

/// Writes the setters of the [`Common`] part into a builder that keeps it
/// in a field named `common`. `$what` ends the first sentence of the
/// documentation of `probes`: "The probes to ...".
macro_rules! common_setters {
    ($what:literal) => {
        #[doc = concat!("The probes to ", $what, " (default: `socket.send` and `socket.receive`).")]
        pub fn probes(mut self, probes: &[$crate::Probe]) -> Self {
            self.common.probes = probes.to_vec();
            self
        }

        $crate::builder::setters! {
            /// The in-kernel filter.
            filter(filter: $crate::Filter) => common.filter;
            /// Which kernel mechanisms to use (default: the best the kernel
            /// accepts, per probe, found by trying).
            backend(backend: $crate::Backend) => common.settings.backend;
            /// All the load settings at once (backend, bpf_loop).
            load_settings(settings: $crate::LoadSettings) => common.settings;
            /// Whether to use bpf_loop where the kernel has it (default true);
            /// false loads the programs for kernels without it, to test them.
            bpf_loop(yes: bool) => common.settings.bpf_loop;
        }
    };
}

pub(crate) use {common_setters, setters};
