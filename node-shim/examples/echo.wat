;; echo: the example kernel of `make run`.
;;
;; On every level it reads each inbox message with `read_input` and
;; - echoes the payload of every external message (tag 0x01) to the outbox with `write_output`,
;; - names every message on the debug channel with `write_debug`,
;; - keeps the number of external messages seen so far in durable storage at `/counter`
;;   (a little-endian u32).
;; It is written in plain WAT so it needs no kernel SDK to build.
(module
  (import "smart_rollup_core" "read_input"
    (func $read_input (param (; info ;) i32 (; dst ;) i32 (; max_bytes ;) i32) (result i32)))
  (import "smart_rollup_core" "write_output"
    (func $write_output (param (; src ;) i32 (; num_bytes ;) i32) (result i32)))
  (import "smart_rollup_core" "write_debug"
    (func $write_debug (param (; src ;) i32 (; num_bytes ;) i32)))
  (import "smart_rollup_core" "store_read"
    (func $store_read (param (; path ;) i32 (; path_len ;) i32 (; offset ;) i32
                             (; dst ;) i32 (; max_bytes ;) i32) (result i32)))
  (import "smart_rollup_core" "store_write"
    (func $store_write (param (; path ;) i32 (; path_len ;) i32 (; offset ;) i32
                              (; src ;) i32 (; num_bytes ;) i32) (result i32)))

  ;; Memory map:
  ;;   0..8      the durable path "/counter"
  ;;   16..24    read_input's message info (level: i32, id: i32)
  ;;   24..28    the counter
  ;;   256..512  debug texts
  ;;   1024..    the input buffer (4096 bytes, the PVM's maximum input size)
  (memory (export "memory") 1)
  (data (i32.const 0) "/counter")
  (data (i32.const 256) "start_of_level")            ;; 14 bytes
  (data (i32.const 272) "info_per_level")            ;; 14 bytes
  (data (i32.const 288) "end_of_level")              ;; 12 bytes
  (data (i32.const 304) "transfer")                  ;; 8 bytes
  (data (i32.const 320) "protocol_migration")        ;; 18 bytes
  (data (i32.const 352) "external: echoed to outbox") ;; 26 bytes
  (data (i32.const 384) "other internal message")    ;; 22 bytes

  (func $debug_internal (param $kind i32)
    (block $other
      (block $migration
        (block $info
          (block $end
            (block $start
              (block $transfer
                (br_table $transfer $start $end $info $migration $other (local.get $kind)))
              (call $write_debug (i32.const 304) (i32.const 8))
              (return))
            (call $write_debug (i32.const 256) (i32.const 14))
            (return))
          (call $write_debug (i32.const 288) (i32.const 12))
          (return))
        (call $write_debug (i32.const 272) (i32.const 14))
        (return))
      (call $write_debug (i32.const 320) (i32.const 18))
      (return))
    (call $write_debug (i32.const 384) (i32.const 22)))

  (func (export "kernel_run")
    (local $size i32)
    ;; Load the counter; on the first run it is absent, store_read fails and memory stays 0.
    (drop (call $store_read (i32.const 0) (i32.const 8) (i32.const 0) (i32.const 24) (i32.const 4)))
    (block $inbox_empty
      (loop $next_message
        (local.set $size (call $read_input (i32.const 16) (i32.const 1024) (i32.const 4096)))
        ;; 0: no more messages in this level; negative: a host error code.
        (br_if $inbox_empty (i32.le_s (local.get $size) (i32.const 0)))
        (if (i32.eq (i32.load8_u (i32.const 1024)) (i32.const 1))
          (then
            (drop (call $write_output (i32.const 1025) (i32.sub (local.get $size) (i32.const 1))))
            (i32.store (i32.const 24) (i32.add (i32.load (i32.const 24)) (i32.const 1)))
            (call $write_debug (i32.const 352) (i32.const 26)))
          (else
            (call $debug_internal (i32.load8_u (i32.const 1025)))))
        (br $next_message)))
    (drop (call $store_write (i32.const 0) (i32.const 8) (i32.const 0) (i32.const 24) (i32.const 4)))))
