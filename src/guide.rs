//! A tour of Turbine (written below).
