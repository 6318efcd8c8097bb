;; Loops forever: runs out of fuel.
(module
  (memory (export "memory") 1)
  (func (export "kernel_run") (loop $l (br $l))))
