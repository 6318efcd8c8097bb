;; Upgrade target: writes "v2" to /version.
(module
  (import "smart_rollup_core" "store_write" (func $store_write (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "/version")
  (data (i32.const 80) "v2")
  (func (export "kernel_run")
    (drop (call $store_write (i32.const 64) (i32.const 8) (i32.const 0) (i32.const 80) (i32.const 2)))))
