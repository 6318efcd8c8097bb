;; Calls write_output forever: after the 100-message limit every call fails with -11.
;; Only the fuel host calls cost ends the run.
(module
  (import "smart_rollup_core" "write_output" (func $out (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "kernel_run")
    (loop $again
      (drop (call $out (i32.const 0) (i32.const 4096)))
      (br $again))))
