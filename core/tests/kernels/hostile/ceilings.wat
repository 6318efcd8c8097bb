;; Probes Soru's deterministic ceilings and writes what each grow returned to the outbox
;; (4-byte little-endian i32 each): memory past 16384 pages and tables past 2^20 elements
;; give -1 whatever the machine; growths below them succeed.
(module
  (import "smart_rollup_core" "write_output" (func $out (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (table $t 1 funcref)
  (func $emit (param $v i32)
    (i32.store (i32.const 0) (local.get $v))
    (drop (call $out (i32.const 0) (i32.const 4))))
  (func (export "kernel_run")
    ;; 1 + 16384 pages is one page past the ceiling: -1.
    (call $emit (memory.grow (i32.const 16384)))
    ;; A small growth works: the old size, 1.
    (call $emit (memory.grow (i32.const 3)))
    ;; 1 + 2^20 elements is one past the table ceiling: -1.
    (call $emit (table.grow $t (ref.null func) (i32.const 1048576)))
    ;; Growing to exactly the ceiling is fine: the old size, 1.
    (call $emit (table.grow $t (ref.null func) (i32.const 1048575)))
    ;; Now any further element is past it: -1.
    (call $emit (table.grow $t (ref.null func) (i32.const 1)))))
