//! `response-writer`: the plugin's response, head then body, handed to the request's sink.

use wasmtime::component::Resource;

use super::bindings::http::{self, WriteError};
use super::resources::HostResponseWriter;
use super::state::PluginState;

impl http::Host for PluginState {}

impl http::HostResponseWriter for PluginState {
    fn send_head(
        &mut self,
        _: Resource<HostResponseWriter>,
        head: http::ResponseHead,
    ) -> wasmtime::Result<Result<(), WriteError>> {
        self.within_budget()?;
        Ok(self.sink.send_head(head.status, head.headers))
    }

    fn write(
        &mut self,
        _: Resource<HostResponseWriter>,
        bytes: Vec<u8>,
    ) -> wasmtime::Result<Result<(), WriteError>> {
        self.within_budget()?;
        Ok(self.sink.write(bytes))
    }

    fn drop(&mut self, writer: Resource<HostResponseWriter>) -> wasmtime::Result<()> {
        self.table.delete(writer)?;
        Ok(())
    }
}
