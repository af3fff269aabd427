//! The `capture._engine` extension module. TO BE WRITTEN (integration).
