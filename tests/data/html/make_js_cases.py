#!/usr/bin/env python3
"""Records the "javascript" buffer clamscan 1.4.6 writes for each input below.

    make_js_cases.py > tests/data/html/js_cases.txt

Each input is scanned with `clamscan --leave-temps --tempdir T --normalize=yes -d S` (S: one
signature that matches nothing) and the file "javascript" in the html-tmp folder clamscan
left is recorded byte for byte. The recordings are of clamscan only; nothing here comes
from avkey. src/engine/js_norm_test.cpp replays them through HtmlNormalizer.

js_cases.txt, one block per case, blank-line separated:

    case NAME
    in ESCAPED-BYTES
    js ESCAPED-BYTES        (or "js none": clamscan wrote no javascript file)

ESCAPED-BYTES as in make_cases.py: printable ASCII except '\\' stands for itself, "\\\\" is
a backslash, "\\xHH" any byte, "\\{N}" followed by one (possibly escaped) byte is that byte
N times.
"""
import glob
import os
import subprocess
import sys
import tempfile

H = "<html><body>\n"


def script(body, tail="\n</body></html>\n"):
    return H + "<script>" + body + "</script>" + tail


CASES = [
    # Tokens and spacing.
    ("t01_basic", script("var foo = 1; foo++;")),
    ("t02_operators", script("a = b >>>= c !== d && e || f ? g : h; i <<= 2; j >>= 3; k ^= l | m & ~n;")),
    ("t03_spacing", script("if(a)return b;else{c=d+e-f*g/h%i}")),
    ("t04_keywords", script("return typeof x instanceof y in z; new Foo(); delete a.b; void 0; throw e;")),
    ("t05_reserved", script("class enum extends super const debugger goto import export")),
    ("t06_true_false_null", script("x = true; y = false; z = null; w = this;")),
    ("t07_upper_case", script("VAR Foo = BAR; var Baz = QUX; Baz.Prop = 'ABC';")),
    ("t08_dollar_underscore", script("var $a_b = _c$; $a_b($);")),
    ("t09_unicode_ident", script("var \\u0061bc = 1; x\\y = 2;")),
    ("t10_8bit_outside_string", script("var a = 1;\xe9\xe8 b = a #@ `c`;")),
    ("t11_brackets", script("var a = [1, [2, 3], {x: 4}]; a[0] = a[1][0];")),
    ("t12_cr_tab", script("var a\t=\r\n1;\x0b\x0cb = 2;")),
    # Comments.
    ("c01_line_comment_space", script("// line comment here\nvar x = 1;")),
    ("c02_line_comment_nospace", script("//nospace\nvar x = 1;")),
    ("c03_block_comment", script("/* block\n comment */ var x = 1; /* another */ x();")),
    ("c04_block_unterminated", script("var x = 1; /* never closed")),
    ("c05_comment_slash_star_slash", script("/*/ still comment */ y = 2;")),
    ("c06_line_comment_tab", script("//a\tb c\nz = 3;")),
    ("c07_html_comment_in_script", script("<!-- hide\nvar x = 1;\n// -->")),
    # Strings and escapes.
    ("s01_double", script('x = "Hello World";')),
    ("s02_single", script("x = 'Hello World';")),
    ("s03_hex_escape", script('x = "A\\x41\\x4a\\x4G";')),
    ("s04_unicode_escape", script('x = "\\u0041\\u00e9\\u4e2d\\u0000z";')),
    ("s05_simple_escapes", script('x = "a\\tb\\nc\\rd\\be\\vf\\fg\\0h\\\\i\\"j\\qk";')),
    ("s06_escaped_quote", script('x = "say \\"hi\\" now"; y = \'it\\\'s\';')),
    ("s07_concat", script('x = "ab" + "cd" + \'ef\';')),
    ("s08_concat_with_var", script('x = "ab" + y + "cd" + "ef";')),
    ("s09_empty_string", script('x = ""; y = \'\'; z = "" + "";')),
    ("s10_unterminated_dq", script('x = "never closed;')),
    ("s11_unterminated_sq", script("x = 'never closed;")),
    ("s12_short_escapes_at_end", script('x = "\\x4"; y = "\\u12"; z = "\\')),
    ("s13_utf8_in_string", script('x = "caf\xc3\xa9 \xe2\x82\xac";')),
    ("s14_string_with_script_tag", script('document.write("<scr" + "ipt>alert(1)</scr" + "ipt>");')),
    ("s15_backslash_backslash_quote", script('x = "a\\\\"; y = 1;')),
    ("s16_concat_after_number", script('x = 1 + "a" + "b";')),
    # unescape / eval / dF.
    ("u01_unescape", script('x = unescape("%41%42%43");')),
    ("u02_unescape_u", script('x = unescape("%u0041%u4e2d%u00e9%uZZZZ%4");')),
    ("u03_unescape_var", script("x = unescape(y);")),
    ("u04_unescape_concat", script('x = unescape("%41" + "%42");')),
    ("u05_unescape_plus_var", script('x = unescape("%41" + y);')),
    ("u06_unescape_nul", script('x = unescape("a%00b");')),
    ("u07_unescape_member", script('x = window.unescape("%41");')),
    ("e01_eval", script('eval("var q = 1; q++;");')),
    ("e02_eval_nested", script("eval(\"eval('var z = 5;')\");")),
    ("e03_eval_var", script("eval(code);")),
    ("e04_eval_unescape", script('eval(unescape("%76%61%72%20%61%3d%31"));')),
    ("e05_eval_no_semicolon", script('eval("alert(1)") + 2')),
    ("e06_eval_in_function", script('function f() { eval("var inner = 2; inner++;"); }')),
    ("e07_eval_concat", script('eval("var a" + "=1;");')),
    ("e08_eval_two_args", script('eval("x", 1);')),
    ("d01_df", script('dF("%2A%2Bhwkswh%2C3")')),
    ("d02_df_semicolon", script('x = 1; dF("hoodu+4,;2"); y = 2;')),
    ("d03_df_empty", script('dF("")')),
    ("d04_df_var", script("dF(abc)")),
    ("p01_packer", script(
        "eval(function(p,a,c,k,e,d){e=function(c){return c};if(!''.replace(/^/,String)){while(c--)"
        "{d[c]=k[c]||c}k=[function(e){return d[e]}];e=function(){return'\\\\w+'};c=1};while(c--)"
        "{if(k[c]){p=p.replace(new RegExp('\\\\b'+e(c)+'\\\\b','g'),k[c])}}return p}"
        "('0 1(\\'2\\');',3,3,'var|alert|hello'.split('|'),0,{}))")),
    ("p02_packer_named", script(
        "function unpack(p,a,c,k,e,r){return p;} x = unpack('0 1 2',10,3,'aa|bb|cc'.split('|'),0,{});")),
    ("p03_packer_base36", script(
        "eval(function(p,a,c,k,e,r){return p}('a b z A',62,40,'0|1|2|3|4|5|6|7|8|9|ten|eleven'.split('|'),0,{}))")),
    # Renaming and scopes.
    ("r01_var_rename", script("var a = 1, b = 2; var c; c = a + b;")),
    ("r02_undeclared", script("x = 1; y = x;")),
    ("r03_function_scope", script("function f(a, b) { var c = a; return c + b; } f(1, 2);")),
    ("r04_nested_functions", script(
        "var g = 1; function outer(x) { var y = x; function inner(z) { return y + z + g; } return inner; }")),
    ("r05_anonymous_function", script("var h = function(a) { return a * 2; }; h(3);")),
    ("r06_member_names", script("var doc = document; doc.write(doc.title); doc.location.href = 'x';")),
    ("r07_redeclare", script("var a = 1; var b = 2; var a = 3; a = b;")),
    ("r08_use_before_declare", script("a = 1; var a; a++;")),
    ("r09_shadowing", script("var a = 1; function f() { var a = 2; return a; } a;")),
    ("r10_var_in_block", script("if (x) { var a = 1; } a;")),
    ("r11_var_with_brackets", script("var a = [x, y], b = 2; b;")),
    ("r12_for_loop", script("for (var i = 0, j = 10; i < j; i++) { sum += i; }")),
    ("r13_extra_close", script("var a = 1; } } a; function f() }")),
    ("r14_function_no_body", script("function f(a, b")),
    ("r15_many_vars", script("".join("var v%d=%d;" % (i, i) for i in range(1100)))),
    ("r16_keyword_member", script("a.delete(); b.function; c.var = 1;")),
    ("r17_function_expression_name", script("var f = function g(a) { return g(a); }; f(g);")),
    # Numbers.
    ("n01_ints", script("x = 0; y = 42; z = 007; w = 2147483648; v = 99999999999999999999;")),
    ("n02_floats", script("x = 1.5; y = 0.1; z = 1.5e3; w = 2.5E-2; v = 3.; u = 1.2.3;")),
    ("n03_exponent_int", script("x = 1e5; y = 0x1F; z = .5;")),
    ("n04_float_format", script("x = 123456789.0; y = 0.0001; z = 0.00001; w = 1.0e300; v = 1e400;")),
    ("n05_exponent_cut", script("x = 1.5e")),
    # Regular expression literals (no special handling: '/' is an operator).
    ("x01_regex", script("var re = /ab+c/gi; s.replace(/[a-z]\\d/, 'x');")),
    ("x02_regex_with_quote", script("var re = /it's/; y = 1;")),
    ("x03_regex_comment_like", script("var re = /a\\/\\/b/; z = 2;")),
    # Blocks and framing.
    ("b01_two_scripts", H + "<script>var a = 1;</script><p>x</p><script>var b = a;</script></body></html>\n"),
    ("b02_script_attrs", H + "<script type=\"text/javascript\" language=\"JavaScript\">var a = 1;</script>\n</html>\n"),
    ("b03_unterminated_script", H + "<script>var a = 1; foo(a"),
    ("b04_script_at_eof", H + "<script>var a = 1;</script>"),
    ("b05_empty_script", H + "<script></script>\n</html>\n"),
    ("b06_script_tag_only_at_eof", H + "<script>"),
    ("b07_upper_script_tag", H + "<SCRIPT>Var A = 1;</SCRIPT>\n</html>\n"),
    ("b08_end_tag_with_space", H + "<script>var a = 1;</script >\n</html>\n"),
    ("b09_no_script", H + "<p>var a = 1;</p></body></html>\n"),
    ("b10_three_scripts", H + "<script>a()</script>\n<script>b()</script>\n<script>c()</script>\n"),
    ("b11_script_in_comment", H + "<!-- <script>var a=1;</script> -->\n<script>b=2;</script>\n"),
    ("b12_close_paren", script("foo(bar(1, 2); baz((3")),
    ("b13_src_script", H + "<script src=\"x.js\"></script><script>ok()</script>\n"),
    ("b14_nested_script_text", script("document.write('<script>x()<\\/script>');")),
    # Chunk boundaries (libclamav hands the script over 8191 bytes at a time).
    ("k01_long_script", script("var longname = 1; " * 600)),
    ("k02_string_across_chunk", H + "<script>x = \"" + "a" * 8180 + " \\x41\\x42 " + "b" * 100 + "\";</script>\n"),
    ("k03_escape_across_chunk", H + "<script>x = \"" + "a" * 8169 + " \\x41\" ; y = 1;</script>\n"),
    ("k04_line_comment_across_chunk", H + "<script>" + "a=1; " * 1634 + "//commentxx" + "y" * 20 + " z=2;</script>\n"),
    ("k05_identifier_across_chunk", H + "<script>" + "a" * 9000 + " = 1;</script>\n"),
    ("k06_big_output_64k", script("aaaaaaaa=1;" * 6000)),
    ("k07_block_comment_across_chunk", H + "<script>" + "a=1; " * 1630 + "/* comment " + "c" * 30 + " */ z=2;</script>\n"),
    ("k08_script_tag_across_chunk", "<html>" + " " * 8180 + "<script>var a=1;</script>\n"),
]


def escape_byte(b):
    if b == 0x5C:
        return "\\\\"
    if 0x20 <= b < 0x7F:
        return chr(b)
    return "\\x%02x" % b


def escape(data):
    out, i = [], 0
    while i < len(data):
        j = i
        while j < len(data) and data[j] == data[i]:
            j += 1
        if j - i >= 8:
            out.append("\\{%d}%s" % (j - i, escape_byte(data[i])))
        else:
            out.extend(escape_byte(b) for b in data[i:j])
        i = j
    return "".join(out)


def record(data, work):
    src = os.path.join(work, "in.html")
    with open(src, "wb") as f:
        f.write(data)
    tmp = tempfile.mkdtemp(dir=work)
    subprocess.run(["clamscan", "--leave-temps", "--tempdir", tmp, "--normalize=yes", "-d",
                    os.path.join(work, "none.ndb"), src], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    found = glob.glob(os.path.join(tmp, "**", "html-tmp*", "javascript"), recursive=True)
    if len(found) > 1:
        sys.exit("more than one javascript file for one input")
    return open(found[0], "rb").read() if found else None


def main():
    with tempfile.TemporaryDirectory() as work:
        with open(os.path.join(work, "none.ndb"), "w") as f:
            f.write("Avkey.Js.Nothing:0:*:00112233445566778899aabbccddeeff\n")
        for name, text in CASES:
            data = text.encode("latin1") if isinstance(text, str) else text
            js = record(data, work)
            print("case %s" % name)
            print("in %s" % escape(data))
            print("js %s" % ("none" if js is None else escape(js)))
            print()


if __name__ == "__main__":
    main()
