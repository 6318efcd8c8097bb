;; 10^6 memory.grow calls that all fail (maximum 2 pages, each asks for 5 more).
(module
  (memory (export "memory") 1 2)
  (func (export "kernel_run") (local $i i32)
    (loop $again
      (drop (memory.grow (i32.const 5)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (i32.const 1000000))))))
