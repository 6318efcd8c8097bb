;; Recurses without end: exhausts the call stack.
(module
  (memory (export "memory") 1)
  (func $f (param i32) (call $f (i32.add (local.get 0) (i32.const 1))))
  (func (export "kernel_run") (call $f (i32.const 0))))
