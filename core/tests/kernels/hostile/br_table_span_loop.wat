;; 10^6 `br_table`s carrying two values (wasmi's branch_table_span handlers).
(module
  (memory (export "memory") 1)
  (func (export "kernel_run") (local $i i32) (local $a i32) (local $b i32)
    (loop $again
      (block $out (result i32 i32)
        (br_table $out $out (local.get $a) (local.get $b) (i32.and (local.get $i) (i32.const 1))))
      (local.set $b)
      (local.set $a)
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (i32.const 1000000))))))
