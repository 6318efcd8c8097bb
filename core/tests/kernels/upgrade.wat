;; Kernel upgrader: an external message "\x01" ++ bytes appends bytes to /kernel/boot.wasm
;; after truncating it (first chunk starts with \x00asm), then requests a reboot. Writes "v1" to
;; /version on every run.
(module
  (import "smart_rollup_core" "read_input" (func $read_input (param i32 i32 i32) (result i32)))
  (import "smart_rollup_core" "store_write" (func $store_write (param i32 i32 i32 i32 i32) (result i32)))
  (import "smart_rollup_core" "store_delete" (func $store_delete (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "/kernel/boot.wasm")
  (data (i32.const 32) "/kernel/env/reboot")
  (data (i32.const 64) "/version")
  (data (i32.const 80) "v1")
  (func (export "kernel_run") (local $n i32) (local $off i32)
    (drop (call $store_write (i32.const 64) (i32.const 8) (i32.const 0) (i32.const 80) (i32.const 2)))
    (loop $next
      (local.set $n (call $read_input (i32.const 0x800) (i32.const 0x1000) (i32.const 4096)))
      (if (i32.gt_s (local.get $n) (i32.const 1)) (then
        (if (i32.eq (i32.load8_u (i32.const 0x1000)) (i32.const 1)) (then
          (drop (call $store_delete (i32.const 0) (i32.const 17)))
          (local.set $off (i32.const 0))
          ;; write the payload (after the tag) in chunks of at most 2048 bytes
          (block $done (loop $chunk
            (br_if $done (i32.ge_s (local.get $off) (i32.sub (local.get $n) (i32.const 1))))
            (drop (call $store_write (i32.const 0) (i32.const 17) (local.get $off)
              (i32.add (i32.const 0x1001) (local.get $off))
              (select (i32.const 2048) (i32.sub (i32.sub (local.get $n) (i32.const 1)) (local.get $off))
                (i32.gt_s (i32.sub (i32.sub (local.get $n) (i32.const 1)) (local.get $off)) (i32.const 2048)))))
            (local.set $off (i32.add (local.get $off) (i32.const 2048)))
            (br $chunk)))
          (drop (call $store_write (i32.const 32) (i32.const 18) (i32.const 0) (i32.const 0) (i32.const 0)))))
        (br $next))))))
