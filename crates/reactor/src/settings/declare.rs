//! `declare_settings!`: turns the one declaration of each setting into `Config`'s field, its
//! default, its builder, its rustdoc row, and the visits through which the parsing, the bounds
//! checks, `Display` and the README table see every setting.
//!
//! The macro writes only what must name each field; what is done with a setting is plain code
//! behind [`Visit`] and [`VisitMut`] (in `config.rs` and the README test), generic over the
//! setting's [`Kind`].

use std::ops::ControlFlow;

use super::kind::Kind;

/// What is known of a setting besides its value: for messages, `Display` and the README.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Setting {
    /// The field and builder name (`max_frame`).
    pub(crate) name: &'static str,
    /// The environment variable (`TURBINE_MAX_FRAME`).
    pub(crate) var: &'static str,
    /// The default as shown to people (`` `64KiB` ``, `available cores`); a value in backticks
    /// is one the kind parses to the default, anything else is prose.
    #[cfg_attr(not(test), expect(dead_code, reason = "read by the README test"))]
    pub(crate) default: &'static str,
    /// The one-sentence meaning, also the field's doc.
    #[cfg_attr(not(test), expect(dead_code, reason = "read by the README test"))]
    pub(crate) meaning: &'static str,
}

/// Something done with each setting's value in turn, in declaration order; `Break` stops early
/// (the first refused value, a failed write).
pub(crate) trait Visit {
    /// What stops the visit.
    type Break;

    /// Sees one setting, its kind and its value.
    fn setting<K: Kind>(
        &mut self,
        setting: &Setting,
        kind: &K,
        value: &K::Value,
    ) -> ControlFlow<Self::Break>;
}

/// Like [`Visit`], with the value writable (to apply a variable).
pub(crate) trait VisitMut {
    /// What stops the visit.
    type Break;

    /// Sees one setting, its kind and its value, which it may replace.
    fn setting<K: Kind>(
        &mut self,
        setting: &Setting,
        kind: &K,
        value: &mut K::Value,
    ) -> ControlFlow<Self::Break>;
}

/// Declares `Config` from one entry per setting:
///
/// ```text
/// /// Meaning: one sentence, the field's and builder's doc and the README's Meaning column.
/// field: Type = default_expr, shown "`default as shown`", var "TURBINE_VAR", accepts KindExpr;
/// ```
///
/// It generates the public field, `Config::new` with every default, the builder of the same
/// name, a `# Variables and defaults` table appended to the struct's doc, `Config::VARIABLES`, and
/// `Config::visit` / `Config::visit_mut`, which call a visitor once per setting with its
/// [`Setting`], its kind and its field.
macro_rules! declare_settings {
    (
        $(#[$attr:meta])*
        pub struct $config:ident {
            $(
                $(#[doc = $meaning:literal])+
                $field:ident: $ty:ty = $default:expr,
                    shown $shown:literal, var $var:literal, accepts $kind:expr;
            )+
        }
    ) => {
        $(#[$attr])*
        ///
        /// # Variables and defaults
        ///
        /// Each builder's variable and default; what each variable accepts is in the README's
        /// Configuration table.
        ///
        #[doc = concat!(
            "| builder | variable | default |\n|---|---|---|\n",
            $(
                "| [`", stringify!($field), "`](", stringify!($config), "::", stringify!($field),
                ") | `", $var, "` | ", $shown, " |\n",
            )+
        )]
        pub struct $config {
            $(
                $(#[doc = $meaning])+
                ///
                #[doc = concat!("Variable `", $var, "`; default ", $shown, ".")]
                pub $field: $ty,
            )+
        }

        impl $config {
            /// Every setting's variable, in declaration order.
            pub(crate) const VARIABLES: &'static [&'static str] = &[$($var),+];

            /// The defaults listed under [Variables and defaults](Config#variables-and-defaults), ignoring the environment.
            pub fn new() -> Self {
                $config {
                    $($field: $default,)+
                }
            }

            $(
                #[doc = concat!(
                    "Sets `", stringify!($field), "`, as `", $var, "` does (default ", $shown,
                    ")."
                )]
                ///
                $(#[doc = $meaning])+
                pub fn $field(mut self, value: $ty) -> Self {
                    self.$field = value;
                    self
                }
            )+

            /// Calls `visitor` with each setting and its value, in declaration order, until it
            /// breaks.
            pub(crate) fn visit<V: $crate::settings::Visit>(
                &self,
                visitor: &mut V,
            ) -> ::std::ops::ControlFlow<V::Break> {
                $(
                    visitor.setting(
                        &$crate::settings::Setting {
                            name: stringify!($field),
                            var: $var,
                            default: $shown,
                            meaning: concat!($($meaning),+).trim_ascii(),
                        },
                        &$kind,
                        &self.$field,
                    )?;
                )+
                ::std::ops::ControlFlow::Continue(())
            }

            /// Like [`visit`](Self::visit), letting `visitor` replace each value.
            pub(crate) fn visit_mut<V: $crate::settings::VisitMut>(
                &mut self,
                visitor: &mut V,
            ) -> ::std::ops::ControlFlow<V::Break> {
                $(
                    visitor.setting(
                        &$crate::settings::Setting {
                            name: stringify!($field),
                            var: $var,
                            default: $shown,
                            meaning: concat!($($meaning),+).trim_ascii(),
                        },
                        &$kind,
                        &mut self.$field,
                    )?;
                )+
                ::std::ops::ControlFlow::Continue(())
            }
        }
    };
}

pub(crate) use declare_settings;
