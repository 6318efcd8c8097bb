//! Kernel validation and compilation: what makes a WASM module a valid kernel.
//!
//! A kernel must:
//! - decode as a WebAssembly module without any floating-point type or instruction (octez
//!   decodes with `allow_floats:false`) and without SIMD;
//! - import only functions of `smart_rollup_core` that exist at the PVM version, each with its
//!   exact signature;
//! - define exactly one memory (32-bit) and export it, of at most [`MAX_MEMORY_PAGES`] initial
//!   pages, and tables of at most [`MAX_TABLE_ELEMENTS`] initial elements (Soru's deterministic
//!   ceilings, see [`crate::abi`]);
//! - have active data and element segments inside the initial memory and tables (octez would
//!   fail at initialisation; Soru says which segment at validation);
//! - declare at most [`MAX_FUNCTION_LOCALS`] locals per function;
//! - have no start function (Soru rejects them: a start function could not use host functions);
//! - export `kernel_run: [] -> []`.
//!
//! Errors are classified like octez's failure states ([`KernelError::is_recoverable`]): a kernel
//! that fails to decode, link or initialise is replaced by the fallback kernel on upgrade, while
//! a missing or ill-typed `kernel_run` leaves the PVM stuck.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use wasmparser::{
    CompositeInnerType, ConstExpr, DataKind, ElementItems, ElementKind, ExternalKind, Operator,
    Parser, Payload, TypeRef, ValType,
};

use crate::abi::{
    HostFunction, PvmVersion, ValKind, HOST_MODULE, MAX_FUNCTION_LOCALS, MAX_MEMORY_PAGES,
    MAX_TABLE_ELEMENTS, WASM_PAGE_SIZE,
};

/// Name of the kernel's entry point.
pub const KERNEL_ENTRYPOINT: &str = "kernel_run";

/// Why a module is not a valid kernel; each variant says what and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KernelError {
    /// The bytes are not a well-formed WebAssembly module.
    #[error("malformed module at byte offset {offset}: {message}")]
    Malformed {
        /// Byte offset of the problem.
        offset: usize,
        /// What the decoder reported.
        message: String,
    },
    /// A floating-point instruction in a function body.
    #[error("float instruction {instruction} in function {function} at byte offset {offset}")]
    FloatInstruction {
        /// Function index (imports included).
        function: u32,
        /// Byte offset of the instruction.
        offset: usize,
        /// The instruction.
        instruction: String,
    },
    /// A floating-point value type.
    #[error("float type {ty} in {location}")]
    FloatType {
        /// Where (e.g. "type 3", "locals of function 7", "global 2").
        location: String,
        /// `f32` or `f64`.
        ty: String,
    },
    /// A start function.
    #[error("start function {function} is not allowed in a kernel")]
    StartFunction {
        /// Index of the start function.
        function: u32,
    },
    /// An import from a module other than `smart_rollup_core`.
    #[error("import {module}.{name}: only {HOST_MODULE} can be imported")]
    UnknownImportModule {
        /// Module name of the import.
        module: String,
        /// Item name of the import.
        name: String,
    },
    /// An import of a name that is not a host function at this PVM version, or not a function.
    #[error("import {HOST_MODULE}.{name} is not a host function of PVM {version}")]
    UnknownHostFunction {
        /// Item name of the import.
        name: String,
        /// The PVM version.
        version: PvmVersion,
    },
    /// An import of a memory, table or global: a kernel imports only host functions (and
    /// defines its own memory).
    #[error("import {HOST_MODULE}.{name} is a {kind}: a kernel imports only host functions and defines and exports its own memory")]
    NonFunctionImport {
        /// Item name of the import.
        name: String,
        /// `memory`, `table`, `global` or `tag`.
        kind: &'static str,
    },
    /// A host function imported with the wrong signature.
    #[error("import {HOST_MODULE}.{name} has type {found}, expected {expected}")]
    ImportSignature {
        /// Host function name.
        name: String,
        /// Its signature.
        expected: String,
        /// The signature the kernel declared.
        found: String,
    },
    /// The kernel does not define exactly one memory.
    #[error("a kernel must define exactly one memory, found {count}")]
    MemoryCount {
        /// Number of memories (defined and imported).
        count: usize,
    },
    /// The memory is 64-bit.
    #[error("the kernel memory must be 32-bit")]
    Memory64,
    /// The memory's initial size is above Soru's deterministic ceiling.
    #[error("the kernel memory starts at {pages} pages, more than the {MAX_MEMORY_PAGES}-page ({} MiB) limit", MAX_MEMORY_PAGES * WASM_PAGE_SIZE / (1024 * 1024))]
    MemoryTooLarge {
        /// Declared initial pages.
        pages: u64,
    },
    /// The tables' initial sizes add up to more than Soru's deterministic ceiling.
    #[error("table {table} starts with {size} elements: all tables together may hold at most {MAX_TABLE_ELEMENTS}")]
    TableTooLarge {
        /// Table index.
        table: u32,
        /// Declared initial elements.
        size: u64,
    },
    /// An active data segment writes outside the initial memory.
    #[error("data segment {segment} writes {len} bytes at offset {offset}, past the initial memory of {memory_bytes} bytes")]
    DataSegmentOutOfBounds {
        /// Segment index.
        segment: u32,
        /// Its offset (unsigned).
        offset: u64,
        /// Its length in bytes.
        len: u64,
        /// The initial memory size in bytes.
        memory_bytes: u64,
    },
    /// An active element segment writes outside its table's initial size.
    #[error("element segment {segment} writes {len} elements at offset {offset} of table {table}, which starts with {table_size}")]
    ElementSegmentOutOfBounds {
        /// Segment index.
        segment: u32,
        /// Table index.
        table: u32,
        /// Its offset (unsigned).
        offset: u64,
        /// Number of elements.
        len: u64,
        /// The table's initial size.
        table_size: u64,
    },
    /// A function declares too many locals.
    #[error("function {function} declares {count} locals, more than the {MAX_FUNCTION_LOCALS}-local limit")]
    TooManyLocals {
        /// Function index (imports included).
        function: u32,
        /// Number of locals declared (saturating).
        count: u64,
    },
    /// The memory is not exported.
    #[error("the kernel must export its memory")]
    MemoryNotExported,
    /// No `kernel_run` export.
    #[error("no `kernel_run` function exported")]
    MissingEntrypoint,
    /// `kernel_run` is exported but is not a function.
    #[error("export `kernel_run` is not a function")]
    EntrypointNotAFunction,
    /// `kernel_run` does not have type `[] -> []`.
    #[error("`kernel_run` has type {found}, expected [] -> []")]
    EntrypointSignature {
        /// The declared type.
        found: String,
    },
    /// The engine rejected the module (a feature Soru does not accept).
    #[error("module rejected by the engine: {0}")]
    Compile(String),
    /// Instantiation failed (e.g. a data segment outside memory).
    #[error("instantiation failed: {0}")]
    Instantiate(String),
}

impl KernelError {
    /// Whether octez recovers from this failure with the fallback kernel (decode, link and
    /// initialisation errors) rather than getting stuck (a missing or ill-typed `kernel_run`).
    pub fn is_recoverable(&self) -> bool {
        !matches!(
            self,
            KernelError::MissingEntrypoint
                | KernelError::EntrypointNotAFunction
                | KernelError::EntrypointSignature { .. }
        )
    }
}

fn malformed(e: wasmparser::BinaryReaderError) -> KernelError {
    KernelError::Malformed {
        offset: e.offset(),
        message: e.message().to_string(),
    }
}

/// The value of an `i32.const N; end` offset, read as unsigned like the spec's address; `None`
/// for any other expression (the engine's validation decides about those).
fn const_offset(expr: &ConstExpr<'_>) -> Option<u64> {
    let mut ops = expr.get_operators_reader();
    match (ops.read().ok()?, ops.read().ok()?) {
        (Operator::I32Const { value }, Operator::End) => Some(u64::from(value as u32)),
        _ => None,
    }
}

fn import_kind(ty: &TypeRef) -> &'static str {
    match ty {
        TypeRef::Func(_) => "function",
        TypeRef::Table(_) => "table",
        TypeRef::Memory(_) => "memory",
        TypeRef::Global(_) => "global",
        TypeRef::Tag(_) => "tag",
    }
}

fn is_float(t: &ValType) -> bool {
    matches!(t, ValType::F32 | ValType::F64)
}

fn check_types(types: &[ValType], location: impl Fn() -> String) -> Result<(), KernelError> {
    match types.iter().find(|t| is_float(t)) {
        Some(t) => Err(KernelError::FloatType {
            location: location(),
            ty: format!("{t}"),
        }),
        None => Ok(()),
    }
}

/// The text-format name (`f32.add`, `i32.trunc_sat_f64_u`, ...) of a floating-point
/// instruction: every MVP and saturating-conversion instruction that takes or makes an `f32` or
/// `f64`, and blocks and `select` typed with one. `None` for every other instruction.
fn float_operator(op: &Operator<'_>) -> Option<&'static str> {
    use wasmparser::BlockType;
    let name = match op {
        Operator::F32Load { .. } => "f32.load",
        Operator::F64Load { .. } => "f64.load",
        Operator::F32Store { .. } => "f32.store",
        Operator::F64Store { .. } => "f64.store",
        Operator::F32Const { .. } => "f32.const",
        Operator::F64Const { .. } => "f64.const",
        Operator::F32Eq { .. } => "f32.eq",
        Operator::F32Ne { .. } => "f32.ne",
        Operator::F32Lt { .. } => "f32.lt",
        Operator::F32Gt { .. } => "f32.gt",
        Operator::F32Le { .. } => "f32.le",
        Operator::F32Ge { .. } => "f32.ge",
        Operator::F64Eq { .. } => "f64.eq",
        Operator::F64Ne { .. } => "f64.ne",
        Operator::F64Lt { .. } => "f64.lt",
        Operator::F64Gt { .. } => "f64.gt",
        Operator::F64Le { .. } => "f64.le",
        Operator::F64Ge { .. } => "f64.ge",
        Operator::F32Abs { .. } => "f32.abs",
        Operator::F32Neg { .. } => "f32.neg",
        Operator::F32Ceil { .. } => "f32.ceil",
        Operator::F32Floor { .. } => "f32.floor",
        Operator::F32Trunc { .. } => "f32.trunc",
        Operator::F32Nearest { .. } => "f32.nearest",
        Operator::F32Sqrt { .. } => "f32.sqrt",
        Operator::F32Add { .. } => "f32.add",
        Operator::F32Sub { .. } => "f32.sub",
        Operator::F32Mul { .. } => "f32.mul",
        Operator::F32Div { .. } => "f32.div",
        Operator::F32Min { .. } => "f32.min",
        Operator::F32Max { .. } => "f32.max",
        Operator::F32Copysign { .. } => "f32.copysign",
        Operator::F64Abs { .. } => "f64.abs",
        Operator::F64Neg { .. } => "f64.neg",
        Operator::F64Ceil { .. } => "f64.ceil",
        Operator::F64Floor { .. } => "f64.floor",
        Operator::F64Trunc { .. } => "f64.trunc",
        Operator::F64Nearest { .. } => "f64.nearest",
        Operator::F64Sqrt { .. } => "f64.sqrt",
        Operator::F64Add { .. } => "f64.add",
        Operator::F64Sub { .. } => "f64.sub",
        Operator::F64Mul { .. } => "f64.mul",
        Operator::F64Div { .. } => "f64.div",
        Operator::F64Min { .. } => "f64.min",
        Operator::F64Max { .. } => "f64.max",
        Operator::F64Copysign { .. } => "f64.copysign",
        Operator::I32TruncF32S { .. } => "i32.trunc_f32_s",
        Operator::I32TruncF32U { .. } => "i32.trunc_f32_u",
        Operator::I32TruncF64S { .. } => "i32.trunc_f64_s",
        Operator::I32TruncF64U { .. } => "i32.trunc_f64_u",
        Operator::I64TruncF32S { .. } => "i64.trunc_f32_s",
        Operator::I64TruncF32U { .. } => "i64.trunc_f32_u",
        Operator::I64TruncF64S { .. } => "i64.trunc_f64_s",
        Operator::I64TruncF64U { .. } => "i64.trunc_f64_u",
        Operator::F32ConvertI32S { .. } => "f32.convert_i32_s",
        Operator::F32ConvertI32U { .. } => "f32.convert_i32_u",
        Operator::F32ConvertI64S { .. } => "f32.convert_i64_s",
        Operator::F32ConvertI64U { .. } => "f32.convert_i64_u",
        Operator::F32DemoteF64 { .. } => "f32.demote_f64",
        Operator::F64ConvertI32S { .. } => "f64.convert_i32_s",
        Operator::F64ConvertI32U { .. } => "f64.convert_i32_u",
        Operator::F64ConvertI64S { .. } => "f64.convert_i64_s",
        Operator::F64ConvertI64U { .. } => "f64.convert_i64_u",
        Operator::F64PromoteF32 { .. } => "f64.promote_f32",
        Operator::I32ReinterpretF32 { .. } => "i32.reinterpret_f32",
        Operator::I64ReinterpretF64 { .. } => "i64.reinterpret_f64",
        Operator::F32ReinterpretI32 { .. } => "f32.reinterpret_i32",
        Operator::F64ReinterpretI64 { .. } => "f64.reinterpret_i64",
        Operator::I32TruncSatF32S { .. } => "i32.trunc_sat_f32_s",
        Operator::I32TruncSatF32U { .. } => "i32.trunc_sat_f32_u",
        Operator::I32TruncSatF64S { .. } => "i32.trunc_sat_f64_s",
        Operator::I32TruncSatF64U { .. } => "i32.trunc_sat_f64_u",
        Operator::I64TruncSatF32S { .. } => "i64.trunc_sat_f32_s",
        Operator::I64TruncSatF32U { .. } => "i64.trunc_sat_f32_u",
        Operator::I64TruncSatF64S { .. } => "i64.trunc_sat_f64_s",
        Operator::I64TruncSatF64U { .. } => "i64.trunc_sat_f64_u",
        Operator::TypedSelect { ty } if is_float(ty) => "select",
        Operator::Block {
            blockty: BlockType::Type(t),
        } if is_float(t) => "block",
        Operator::Loop {
            blockty: BlockType::Type(t),
        } if is_float(t) => "loop",
        Operator::If {
            blockty: BlockType::Type(t),
        } if is_float(t) => "if",
        _ => return None,
    };
    Some(name)
}

fn show_sig(params: &[ValType], results: &[ValType]) -> String {
    let list = |ts: &[ValType]| {
        ts.iter()
            .map(|t| format!("{t}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("[{}] -> [{}]", list(params), list(results))
}

fn kind_sig(params: &[ValKind], results: &[ValKind]) -> String {
    let show = |k: &ValKind| match k {
        ValKind::I32 => "i32",
        ValKind::I64 => "i64",
    };
    let list = |ts: &[ValKind]| ts.iter().map(show).collect::<Vec<_>>().join(", ");
    format!("[{}] -> [{}]", list(params), list(results))
}

fn matches_kinds(types: &[ValType], kinds: &[ValKind]) -> bool {
    types.len() == kinds.len()
        && types.iter().zip(kinds).all(|(t, k)| {
            matches!(
                (t, k),
                (ValType::I32, ValKind::I32) | (ValType::I64, ValKind::I64)
            )
        })
}

/// Checks that `bytes` is a valid kernel for PVM `version` (see the module docs).
pub fn validate(bytes: &[u8], version: PvmVersion) -> Result<(), KernelError> {
    let mut types: Vec<(Vec<ValType>, Vec<ValType>)> = Vec::new();
    let mut func_types: Vec<u32> = Vec::new();
    let mut imported_funcs = 0u32;
    let mut memories = 0usize;
    let mut memory_pages = 0u64;
    let mut tables: Vec<u64> = Vec::new();
    let mut memory_exported = false;
    let mut entrypoint: Option<(ExternalKind, u32)> = None;
    let mut next_body = 0u32;

    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(malformed)? {
            Payload::TypeSection(reader) => {
                for group in reader {
                    for sub in group.map_err(malformed)?.into_types() {
                        let index = types.len();
                        match &sub.composite_type.inner {
                            CompositeInnerType::Func(ft) => {
                                check_types(ft.params(), || format!("parameters of type {index}"))?;
                                check_types(ft.results(), || format!("results of type {index}"))?;
                                types.push((ft.params().to_vec(), ft.results().to_vec()));
                            }
                            _ => {
                                return Err(KernelError::Compile(format!(
                                    "type {index} is not a function type"
                                )))
                            }
                        }
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader {
                    let import = import.map_err(malformed)?;
                    if import.module != HOST_MODULE {
                        return Err(KernelError::UnknownImportModule {
                            module: import.module.to_string(),
                            name: import.name.to_string(),
                        });
                    }
                    if !matches!(import.ty, TypeRef::Func(_)) {
                        return Err(KernelError::NonFunctionImport {
                            name: import.name.to_string(),
                            kind: import_kind(&import.ty),
                        });
                    }
                    let host = HostFunction::lookup(import.name, version);
                    match (host, import.ty) {
                        (Some(f), TypeRef::Func(ty)) => {
                            let (params, results) =
                                types
                                    .get(ty as usize)
                                    .ok_or_else(|| KernelError::Malformed {
                                        offset: 0,
                                        message: format!(
                                            "import {} uses unknown type {ty}",
                                            import.name
                                        ),
                                    })?;
                            if !matches_kinds(params, f.params())
                                || !matches_kinds(results, f.results())
                            {
                                return Err(KernelError::ImportSignature {
                                    name: import.name.to_string(),
                                    expected: kind_sig(f.params(), f.results()),
                                    found: show_sig(params, results),
                                });
                            }
                            func_types.push(ty);
                            imported_funcs += 1;
                        }
                        _ => {
                            return Err(KernelError::UnknownHostFunction {
                                name: import.name.to_string(),
                                version,
                            })
                        }
                    }
                }
            }
            Payload::FunctionSection(reader) => {
                for ty in reader {
                    func_types.push(ty.map_err(malformed)?);
                }
            }
            Payload::MemorySection(reader) => {
                for mem in reader {
                    let mem = mem.map_err(malformed)?;
                    if mem.memory64 {
                        return Err(KernelError::Memory64);
                    }
                    if mem.initial > MAX_MEMORY_PAGES {
                        return Err(KernelError::MemoryTooLarge { pages: mem.initial });
                    }
                    memory_pages = mem.initial;
                    memories += 1;
                }
            }
            Payload::TableSection(reader) => {
                for table in reader {
                    let table = table.map_err(malformed)?;
                    let total: u64 = tables.iter().sum::<u64>() + table.ty.initial;
                    if total > MAX_TABLE_ELEMENTS {
                        return Err(KernelError::TableTooLarge {
                            table: tables.len() as u32,
                            size: table.ty.initial,
                        });
                    }
                    tables.push(table.ty.initial);
                }
            }
            Payload::DataSection(reader) => {
                for (segment, data) in (0u32..).zip(reader) {
                    let data = data.map_err(malformed)?;
                    let DataKind::Active { offset_expr, .. } = &data.kind else {
                        continue;
                    };
                    let Some(offset) = const_offset(offset_expr) else {
                        continue;
                    };
                    let len = data.data.len() as u64;
                    let memory_bytes = memory_pages * WASM_PAGE_SIZE;
                    if offset + len > memory_bytes {
                        return Err(KernelError::DataSegmentOutOfBounds {
                            segment,
                            offset,
                            len,
                            memory_bytes,
                        });
                    }
                }
            }
            Payload::ElementSection(reader) => {
                for (segment, element) in (0u32..).zip(reader) {
                    let element = element.map_err(malformed)?;
                    let ElementKind::Active {
                        table_index,
                        offset_expr,
                    } = &element.kind
                    else {
                        continue;
                    };
                    let Some(offset) = const_offset(offset_expr) else {
                        continue;
                    };
                    let len = u64::from(match &element.items {
                        ElementItems::Functions(r) => r.count(),
                        ElementItems::Expressions(_, r) => r.count(),
                    });
                    let table = table_index.unwrap_or(0);
                    let Some(&table_size) = tables.get(table as usize) else {
                        continue;
                    };
                    if offset + len > table_size {
                        return Err(KernelError::ElementSegmentOutOfBounds {
                            segment,
                            table,
                            offset,
                            len,
                            table_size,
                        });
                    }
                }
            }
            Payload::GlobalSection(reader) => {
                for (i, global) in reader.into_iter().enumerate() {
                    let global = global.map_err(malformed)?;
                    check_types(&[global.ty.content_type], || format!("global {i}"))?;
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.map_err(malformed)?;
                    if export.kind == ExternalKind::Memory && export.index == 0 {
                        memory_exported = true;
                    }
                    if export.name == KERNEL_ENTRYPOINT {
                        entrypoint = Some((export.kind, export.index));
                    }
                }
            }
            Payload::StartSection { func, .. } => {
                return Err(KernelError::StartFunction { function: func });
            }
            Payload::CodeSectionEntry(body) => {
                let function = imported_funcs + next_body;
                next_body += 1;
                let locals = body.get_locals_reader().map_err(malformed)?;
                let mut count = 0u64;
                for local in locals {
                    let (n, ty) = local.map_err(malformed)?;
                    check_types(&[ty], || format!("locals of function {function}"))?;
                    count += u64::from(n);
                    if count > MAX_FUNCTION_LOCALS {
                        return Err(KernelError::TooManyLocals { function, count });
                    }
                }
                let mut ops = body.get_operators_reader().map_err(malformed)?;
                while !ops.eof() {
                    let (op, offset) = ops.read_with_offset().map_err(malformed)?;
                    if let Some(instruction) = float_operator(&op) {
                        return Err(KernelError::FloatInstruction {
                            function,
                            offset,
                            instruction: instruction.to_string(),
                        });
                    }
                }
            }
            _ => {}
        }
    }

    if memories != 1 {
        return Err(KernelError::MemoryCount { count: memories });
    }
    if !memory_exported {
        return Err(KernelError::MemoryNotExported);
    }
    match entrypoint {
        None => Err(KernelError::MissingEntrypoint),
        Some((ExternalKind::Func, index)) => {
            let ty = func_types
                .get(index as usize)
                .and_then(|t| types.get(*t as usize));
            match ty {
                Some((p, r)) if p.is_empty() && r.is_empty() => Ok(()),
                Some((p, r)) => Err(KernelError::EntrypointSignature {
                    found: show_sig(p, r),
                }),
                None => Err(KernelError::Malformed {
                    offset: 0,
                    message: format!("kernel_run refers to unknown function {index}"),
                }),
            }
        }
        Some(_) => Err(KernelError::EntrypointNotAFunction),
    }
}

/// The wasmi engine configuration of the PVM: eager compilation, fuel metering, no floats, no
/// start function, only the WebAssembly features octez's interpreter accepts, and the call
/// depth limit of `version` (60 000 frames; the portable dispatch keeps wasm calls off the
/// native stack, so this needs no large native stack).
pub(crate) fn engine_config(version: PvmVersion) -> wasmi::Config {
    let mut config = wasmi::Config::default();
    config
        .compilation_mode(wasmi::CompilationMode::Eager)
        .consume_fuel(true)
        .floats(false)
        .allow_start_fn(false)
        .wasm_mutable_global(true)
        .wasm_sign_extension(true)
        .wasm_saturating_float_to_int(false)
        .wasm_multi_value(true)
        .wasm_bulk_memory(true)
        .wasm_reference_types(true)
        .wasm_tail_call(false)
        .wasm_extended_const(false)
        .wasm_multi_memory(false)
        .wasm_custom_page_sizes(false)
        .wasm_wide_arithmetic(false)
        .set_max_recursion_depth(version.stack_size_limit());
    config
}
