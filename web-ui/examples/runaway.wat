;; runaway: a kernel whose kernel_run never returns by itself. The PVM stops it when its fuel
;; (11 billion units per kernel_run) runs out; in the playground, Stop aborts it sooner.
(module
  (memory (export "memory") 1)
  (func (export "kernel_run")
    (loop $forever
      (br $forever))))
