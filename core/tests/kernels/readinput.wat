;; Calls read_input(info, dst, max) with the arguments stored at /args (3 x i32 LE) until it
;; returns 0 or an error (at most 16 calls). For each call it outputs [result i32 LE][info 8
;; bytes], then the bytes read.
(module
  (import "smart_rollup_core" "read_input" (func $read_input (param i32 i32 i32) (result i32)))
  (import "smart_rollup_core" "write_output" (func $write_output (param i32 i32) (result i32)))
  (import "smart_rollup_core" "store_read" (func $store_read (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "/args")
  (func (export "kernel_run") (local $r i32) (local $i i32) (local $dst i32)
    (drop (call $store_read (i32.const 0) (i32.const 5) (i32.const 0) (i32.const 0x20) (i32.const 12)))
    (local.set $dst (i32.load (i32.const 0x24)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (i32.const 16)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (i64.store (i32.load (i32.const 0x20)) (i64.const -1))
      (local.set $r (call $read_input (i32.load (i32.const 0x20)) (local.get $dst) (i32.load (i32.const 0x28))))
      (i32.store (i32.const 0x40) (local.get $r))
      (i64.store (i32.const 0x44) (i64.load (i32.load (i32.const 0x20))))
      (drop (call $write_output (i32.const 0x40) (i32.const 12)))
      (br_if $done (i32.le_s (local.get $r) (i32.const 0)))
      (drop (call $write_output (local.get $dst) (local.get $r)))
      (br $next)))))
