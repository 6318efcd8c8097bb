;; 10^6 table.grow calls that all fail (maximum 2 elements, each asks for 5 more).
(module
  (memory (export "memory") 1)
  (table $t 1 2 funcref)
  (func (export "kernel_run") (local $i i32)
    (loop $again
      (drop (table.grow $t (ref.null func) (i32.const 5)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (i32.const 1000000))))))
