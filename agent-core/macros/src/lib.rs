//! The `#[tool]` attribute of `argus-core`: a typed Argus tool from an `async fn`.
//!
//! Use it as `argus_core::tool` (or `argus_tools::tool`). The generated code names only paths
//! under one root crate, `::argus_core` by default, so a crate using the attribute needs neither
//! `serde` nor `schemars` as a direct dependency. `#[tool(crate = path)]` sets the root for a
//! crate that renamed its dependency or reaches the kernel through another crate.
#![cfg_attr(test, allow(clippy::unwrap_used))]

mod docs;

use proc_macro::TokenStream;
use proc_macro2::TokenStream as TokenStream2;
use quote::{format_ident, quote};
use syn::spanned::Spanned as _;
use syn::{
    FnArg, GenericArgument, Ident, ItemFn, LitStr, Pat, Path, PathArguments, ReturnType, Type,
};

/// Turns an `async fn` returning `Result<T, E>` into a typed Argus tool.
///
/// Use it through its re-export `argus_core::tool`, which is documented with examples. The
/// generated code names `::argus_core`.
#[proc_macro_attribute]
pub fn tool(attr: TokenStream, item: TokenStream) -> TokenStream {
    attribute(attr, item, syn::parse_quote!(::argus_core))
}

/// The `#[tool]` attribute as `argus_tools::tool`: the generated code names `::argus_tools`,
/// so a crate that depends on `argus-tools` alone can use it.
#[proc_macro_attribute]
pub fn tool_in_argus_tools(attr: TokenStream, item: TokenStream) -> TokenStream {
    attribute(attr, item, syn::parse_quote!(::argus_tools))
}

/// Parses the options (`root` unless `crate = ...` says otherwise) and expands the function.
fn attribute(attr: TokenStream, item: TokenStream, root: Path) -> TokenStream {
    let mut options = Options {
        name: None,
        side_effecting: false,
        root,
    };
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("name") {
            options.name = Some(meta.value()?.parse::<LitStr>()?);
            Ok(())
        } else if meta.path.is_ident("side_effecting") {
            options.side_effecting = true;
            Ok(())
        } else if meta.path.is_ident("crate") {
            let value = meta.value()?;
            options.root = if value.peek(LitStr) {
                value.parse::<LitStr>()?.parse::<Path>()?
            } else {
                value.parse::<Path>()?
            };
            Ok(())
        } else {
            Err(meta.error(
                "unknown option: expected `name = \"...\"`, `side_effecting` or `crate = path`",
            ))
        }
    });
    syn::parse_macro_input!(attr with parser);
    let function = syn::parse_macro_input!(item as ItemFn);
    expand(&options, &function)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

struct Options {
    /// `name = "..."`: the tool name, instead of the function's.
    name: Option<LitStr>,
    /// `side_effecting`: the agent asks its approval hook before each call.
    side_effecting: bool,
    /// The crate whose paths the generated code names (`::argus_core` or `::argus_tools`).
    root: Path,
}

/// One parameter of the tool function.
enum Param {
    /// A typed argument the model supplies.
    Argument { ident: Ident, ty: Box<Type> },
    /// The per-call `ToolContext`, passed through.
    Context,
}

fn expand(options: &Options, function: &ItemFn) -> syn::Result<TokenStream2> {
    let sig = &function.sig;
    if sig.asyncness.is_none() {
        return Err(syn::Error::new(
            sig.fn_token.span(),
            "#[tool] needs an `async fn`",
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(syn::Error::new(
            sig.generics.span(),
            "a #[tool] function cannot be generic",
        ));
    }
    let output = output_type(&sig.output)?;
    let params = parameters(function)?;

    let doc = docs::DocComment::from_attrs(&function.attrs);
    let description = doc.description();
    if description.is_empty() {
        return Err(syn::Error::new(
            sig.ident.span(),
            "add a doc comment to the tool function: its first paragraph is the description \
             the model reads",
        ));
    }
    let described = doc.arguments();
    for (name, _) in &described {
        let known = params
            .iter()
            .any(|p| matches!(p, Param::Argument { ident, .. } if ident_name(ident) == *name));
        if !known {
            return Err(syn::Error::new(
                sig.ident.span(),
                format!("the `# Arguments` section documents `{name}`, which is not a parameter"),
            ));
        }
    }

    let fn_ident = &sig.ident;
    let fn_name = ident_name(fn_ident);
    let tool_name = options
        .name
        .as_ref()
        .map_or_else(|| fn_name.clone(), LitStr::value);
    let vis = &function.vis;
    let struct_ident = format_ident!("{}", camel_case(&fn_name), span = fn_ident.span());
    let args_ident = format_ident!("{}Args", struct_ident);

    let fields = params.iter().filter_map(|param| match param {
        Param::Argument { ident, ty } => {
            let doc = described
                .iter()
                .find(|(name, _)| *name == ident_name(ident))
                .map(|(_, text)| quote!(#[doc = #text]));
            Some(quote!(#doc #vis #ident: #ty,))
        }
        Param::Context => None,
    });
    let uses_context = params.iter().any(|p| matches!(p, Param::Context));
    let ctx_ident = if uses_context {
        format_ident!("ctx")
    } else {
        format_ident!("_ctx")
    };
    let call_args = params.iter().map(|param| match param {
        Param::Argument { ident, .. } => quote!(args.#ident),
        Param::Context => quote!(#ctx_ident),
    });
    let root = &options.root;
    let policy = options.side_effecting.then(|| {
        quote! {
            fn policy(&self) -> #root::ToolPolicy {
                #root::ToolPolicy::side_effecting()
            }
        }
    });
    let serde = quote!(#root::__private::serde);
    let schemars = quote!(#root::__private::schemars);
    let serde_crate = serde.to_string().replace(' ', "");
    let schemars_crate = schemars.to_string().replace(' ', "");
    let args_doc = format!("Arguments of the `{tool_name}` tool (generated by `#[tool]`).");
    let doc_attrs = function.attrs.iter().filter(|a| a.path().is_ident("doc"));

    Ok(quote! {
        #function

        #[doc = #args_doc]
        #[derive(#serde::Deserialize, #schemars::JsonSchema)]
        #[serde(crate = #serde_crate, deny_unknown_fields)]
        #[schemars(crate = #schemars_crate, description = "")]
        #[allow(missing_docs)]
        #vis struct #args_ident {
            #(#fields)*
        }

        #(#doc_attrs)*
        #[derive(Debug, Clone, Copy, Default)]
        #vis struct #struct_ident;

        impl #root::Tool for #struct_ident {
            const NAME: &'static str = #tool_name;
            type Args = #args_ident;
            type Output = #output;
            type Error = #root::ToolFnError;

            fn description(&self) -> ::std::string::String {
                ::std::string::String::from(#description)
            }

            async fn call(
                &self,
                args: #args_ident,
                #ctx_ident: #root::ToolContext,
            ) -> ::std::result::Result<#output, #root::ToolFnError> {
                #fn_ident(#(#call_args),*)
                    .await
                    .map_err(#root::ToolFnError::new)
            }

            #policy
        }
    })
}

fn parameters(function: &ItemFn) -> syn::Result<Vec<Param>> {
    let mut params = Vec::new();
    for input in &function.sig.inputs {
        let typed = match input {
            FnArg::Receiver(receiver) => {
                return Err(syn::Error::new(
                    receiver.span(),
                    "a #[tool] function cannot take `self`: for a tool with state, implement \
                     `Tool` on a struct",
                ))
            }
            FnArg::Typed(typed) => typed,
        };
        if is_tool_context(&typed.ty) {
            if params.iter().any(|p| matches!(p, Param::Context)) {
                return Err(syn::Error::new(
                    typed.span(),
                    "only one `ToolContext` parameter is allowed",
                ));
            }
            params.push(Param::Context);
            continue;
        }
        let ident = match &*typed.pat {
            Pat::Ident(pat) if pat.by_ref.is_none() && pat.subpat.is_none() => pat.ident.clone(),
            other => {
                return Err(syn::Error::new(
                    other.span(),
                    "#[tool] parameters must be plain names (`city: String`): each becomes a \
                     field of the arguments object",
                ))
            }
        };
        params.push(Param::Argument {
            ident,
            ty: typed.ty.clone(),
        });
    }
    Ok(params)
}

fn is_tool_context(ty: &Type) -> bool {
    match ty {
        Type::Path(path) => path
            .path
            .segments
            .last()
            .is_some_and(|segment| segment.ident == "ToolContext"),
        _ => false,
    }
}

/// `T` of a `Result<T, E>` (or of any `Result<T>` alias, like `anyhow::Result<T>`).
fn output_type(output: &ReturnType) -> syn::Result<&Type> {
    let error = |span| {
        syn::Error::new(
            span,
            "a #[tool] function returns `Result<T, E>`: `T` is serialized for the model and `E` \
             converts into `Box<dyn Error + Send + Sync>` (a `String` works)",
        )
    };
    let ReturnType::Type(_, ty) = output else {
        return Err(error(output.span()));
    };
    let Type::Path(path) = &**ty else {
        return Err(error(ty.span()));
    };
    let Some(last) = path.path.segments.last() else {
        return Err(error(ty.span()));
    };
    if last.ident != "Result" {
        return Err(error(ty.span()));
    }
    let PathArguments::AngleBracketed(generics) = &last.arguments else {
        return Err(error(ty.span()));
    };
    match generics.args.first() {
        Some(GenericArgument::Type(output)) => Ok(output),
        _ => Err(error(ty.span())),
    }
}

fn ident_name(ident: &Ident) -> String {
    let name = ident.to_string();
    name.strip_prefix("r#").map(str::to_string).unwrap_or(name)
}

/// `get_weather` → `GetWeather`.
fn camel_case(snake: &str) -> String {
    snake
        .split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> Options {
        Options {
            name: None,
            side_effecting: false,
            root: syn::parse_quote!(::argus_core),
        }
    }

    #[test]
    fn camel_cases_names() {
        assert_eq!(camel_case("get_weather"), "GetWeather");
        assert_eq!(camel_case("add"), "Add");
        assert_eq!(camel_case("_private__name_"), "PrivateName");
    }

    #[test]
    fn expands_a_tool_function() {
        let function: ItemFn = syn::parse_quote! {
            /// Says hello.
            ///
            /// # Arguments
            ///
            /// * `name` - Who to greet.
            async fn greet(name: String, ctx: ToolContext) -> Result<String, String> {
                Ok(name)
            }
        };
        let code = expand(&options(), &function).unwrap().to_string();
        assert!(code.contains("struct GreetArgs"), "{code}");
        assert!(code.contains("struct Greet ;"), "{code}");
        assert!(
            code.contains("const NAME : & 'static str = \"greet\""),
            "{code}"
        );
        assert!(
            code.contains("# [doc = \"Who to greet.\"] name : String"),
            "{code}"
        );
        assert!(code.contains("greet (args . name , ctx)"), "{code}");
        assert!(
            code.contains("impl :: argus_core :: Tool for Greet"),
            "{code}"
        );
        assert!(
            code.contains("serde (crate = \"::argus_core::__private::serde\""),
            "{code}"
        );
        assert!(!code.contains("argus_tools"), "{code}");
    }

    #[test]
    fn names_the_chosen_root_crate() {
        let function: ItemFn = syn::parse_quote! {
            /// Wipes.
            async fn wipe() -> Result<(), String> { Ok(()) }
        };
        let options = Options {
            name: Some(syn::parse_quote!("wipe-all")),
            side_effecting: true,
            root: syn::parse_quote!(my_kernel),
        };
        let code = expand(&options, &function).unwrap().to_string();
        assert!(code.contains("impl my_kernel :: Tool for Wipe"), "{code}");
        assert!(
            code.contains("my_kernel :: ToolPolicy :: side_effecting ()"),
            "{code}"
        );
        assert!(
            code.contains("schemars (crate = \"my_kernel::__private::schemars\""),
            "{code}"
        );
        assert!(code.contains("\"wipe-all\""), "{code}");
        assert!(!code.contains("argus_core"), "{code}");
    }

    #[test]
    fn rejects_what_it_cannot_expand() {
        let cases: Vec<(ItemFn, &str)> = vec![
            (
                syn::parse_quote! { /// Doc.
                fn f() -> Result<(), String> { Ok(()) } },
                "async fn",
            ),
            (
                syn::parse_quote! { async fn f() -> Result<(), String> { Ok(()) } },
                "doc comment",
            ),
            (
                syn::parse_quote! { /// Doc.
                async fn f() -> u32 { 1 } },
                "Result<T, E>",
            ),
            (
                syn::parse_quote! { /// Doc.
                async fn f<T>(x: T) -> Result<(), String> { Ok(()) } },
                "generic",
            ),
            (
                syn::parse_quote! { /// Doc.
                async fn f((a, b): (u8, u8)) -> Result<(), String> { Ok(()) } },
                "plain names",
            ),
            (
                syn::parse_quote! {
                    /// Doc.
                    ///
                    /// # Arguments
                    /// * `y` - Not there.
                    async fn f(x: u8) -> Result<(), String> { Ok(()) }
                },
                "not a parameter",
            ),
        ];
        for (function, expected) in cases {
            let error = expand(&options(), &function).err().unwrap().to_string();
            assert!(
                error.contains(expected),
                "{error} should mention {expected}"
            );
        }
    }
}
