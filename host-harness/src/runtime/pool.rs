//! The pool that every instance's memory and tables come from, tuned for instances that live
//! for one request.
//!
//! Each request gets a fresh instance, so what it costs to hand a used slot to the next
//! instance is paid on every request. By default wasmtime resets a slot's memory and tables
//! with `madvise(MADV_DONTNEED)`: on a multi-threaded host that is a TLB shootdown (an
//! interrupt to every other CPU) per instance, and the next instance in the slot then takes
//! a page fault (and a copy-on-write of the data segment) for every page it touches again.
//! Profiled on a hello endpoint, those two were a third of the server's CPU.
//!
//! A plugin touches little of its memory in one request: a Rust guest's initial memory is
//! its 1 MiB stack, its data segment and a few pages of heap, and one request of the
//! benchmark's plugins leaves 28 KiB (hello) to 48 KiB (Duck, a 3-event stream) of it
//! written, plus about 8 KiB of tables. So the pool keeps those pages resident and puts them
//! back as they were with a copy: Linux's `PAGEMAP_SCAN` reports the written pages wherever
//! they are, with one system call that only reads the page tables (no shootdown, and no page
//! faults for the next instance).
//! Where the kernel has no `PAGEMAP_SCAN` (before 6.7, or not Linux), memory is reset as
//! before: without the scan, wasmtime could only copy over the lowest bytes of memory, and a
//! Rust guest's stack sits at the top of its first MiB, so keeping it resident would mean
//! copying over more than a MiB per request.

use wasmtime::{Enabled, PoolingAllocationConfig};

/// Instances that can be live at once, across all plugins of a runtime.
const MAX_LIVE_INSTANCES: u32 = 1000;
/// The most linear memory any instance may have; each plugin's own limit is lower.
const MAX_MEMORY: usize = 1 << 30;
/// Written memory a used slot keeps resident for the next instance, with `PAGEMAP_SCAN`.
/// Five times what the Duck example writes in a request, so that plugins that parse a body or
/// build a larger response are reset by a copy too (past it, the rest is given back with
/// `madvise`, as without this). It is also what an idle slot may keep holding: every slot a
/// request used stays warm, so after N requests at once that each wrote this much, the host
/// keeps N times it resident (64 clients of a 64 MiB body: 16 MiB; at most `MAX_REQUESTS`
/// of them, 225 MiB).
const MEMORY_KEEP_RESIDENT: usize = 256 << 10;
/// Table bytes a used slot keeps resident: tables are reset by a copy of their used part
/// whether or not the kernel has `PAGEMAP_SCAN`, since they start at the slot's start. 64 KiB
/// is 8,192 function references, several times what a plugin's tables hold.
const TABLE_KEEP_RESIDENT: usize = 64 << 10;

/// The pool's configuration: its size, and how used slots are reset.
pub(super) fn config() -> PoolingAllocationConfig {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(MAX_LIVE_INSTANCES)
        .total_core_instances(MAX_LIVE_INSTANCES * 8)
        .total_memories(MAX_LIVE_INSTANCES * 2)
        .total_tables(MAX_LIVE_INSTANCES * 8)
        .max_memory_size(MAX_MEMORY)
        .table_keep_resident(TABLE_KEEP_RESIDENT);
    if PoolingAllocationConfig::is_pagemap_scan_available() {
        // `Auto` rather than `Yes`: should the scan become unavailable after the check, the
        // engine still starts, and memory is reset by copying over its lowest bytes instead.
        pool.pagemap_scan(Enabled::Auto)
            .linear_memory_keep_resident(MEMORY_KEEP_RESIDENT);
    }
    pool
}
