;; Uses a float instruction: must be rejected.
(module
  (memory (export "memory") 1)
  (func $helper (result i32) (i32.const 1))
  (func (export "kernel_run")
    (drop (i32.trunc_f32_s (f32.const 1.5)))))
