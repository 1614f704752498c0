package newssearch.esnode;

import java.util.Map;
import java.util.regex.Pattern;

import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.Tokenizer;
import org.apache.lucene.analysis.miscellaneous.LengthFilter;
import org.apache.lucene.analysis.pattern.PatternReplaceFilter;
import org.apache.lucene.analysis.pattern.PatternTokenizer;
import org.apache.lucene.analysis.snowball.SnowballFilter;
import org.elasticsearch.common.Strings;
import org.elasticsearch.common.regex.Regex;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.index.analysis.AbstractTokenFilterFactory;
import org.elasticsearch.index.analysis.AbstractTokenizerFactory;
import org.elasticsearch.index.analysis.NormalizingTokenFilterFactory;
import org.elasticsearch.index.analysis.TokenFilterFactory;
import org.elasticsearch.index.analysis.TokenizerFactory;
import org.elasticsearch.indices.analysis.AnalysisModule.AnalysisProvider;
import org.elasticsearch.plugins.AnalysisPlugin;
import org.elasticsearch.plugins.Plugin;

/**
 * The tokenizer and token filter types NewsSearch's custom analyzers are built from, registered
 * under the names (and reading the settings keys) of Elasticsearch's analysis-common module,
 * which is not published on Maven Central for 8.x:
 *
 * <ul>
 *   <li>tokenizer {@code pattern}: Lucene's {@link PatternTokenizer}; {@code pattern} (default
 *       {@code \W+}) and {@code flags} compiled by the server's own {@link Regex#compile}, {@code
 *       group} (default -1: the pattern separates tokens);
 *   <li>token filter {@code length}: Lucene's {@link LengthFilter}; {@code min} (default 0),
 *       {@code max} (default {@link Integer#MAX_VALUE}), in UTF-16 code units; the long-gone
 *       {@code enable_position_increments} is refused, as there;
 *   <li>token filter {@code pattern_replace}: Lucene's {@link PatternReplaceFilter}; {@code
 *       pattern} (required), {@code flags}, {@code replacement} (default empty), {@code all}
 *       (default true); like analysis-common it needs settings (not usable by bare name);
 *   <li>token filter {@code snowball}: Lucene's {@link SnowballFilter} with the Snowball stemmer
 *       named by {@code language} (or the old {@code name}; default English), capitalised, so
 *       {@code German}, {@code english}, {@code Russian} all work.
 * </ul>
 *
 * <p>What the server registers itself is left alone (registering a name twice fails the node):
 * the {@code standard} tokenizer, the {@code stop}, {@code shingle} and {@code hunspell} filter
 * types, and the pre-configured {@code lowercase} filter, which an analyzer names directly.
 */
public final class AnalysisBuildingBlocksPlugin extends Plugin implements AnalysisPlugin {

    @Override
    public Map<String, AnalysisProvider<TokenizerFactory>> getTokenizers() {
        return Map.of("pattern", (indexSettings, environment, name, settings) -> {
            Pattern pattern = Regex.compile(settings.get("pattern", "\\W+"), settings.get("flags"));
            int group = settings.getAsInt("group", -1);
            return new AbstractTokenizerFactory(indexSettings, settings, name) {
                @Override
                public Tokenizer create() {
                    return new PatternTokenizer(pattern, group);
                }
            };
        });
    }

    @Override
    public Map<String, AnalysisProvider<TokenFilterFactory>> getTokenFilters() {
        return Map.of(
            "length", (indexSettings, environment, name, settings) -> length(name, settings),
            "pattern_replace", AnalysisPlugin.requiresAnalysisSettings(
                (indexSettings, environment, name, settings) -> patternReplace(name, settings)),
            "snowball", (indexSettings, environment, name, settings) -> snowball(name, settings)
        );
    }

    private static TokenFilterFactory length(String name, Settings settings) {
        if (settings.get("enable_position_increments") != null) {
            throw new IllegalArgumentException(
                "enable_position_increments is not supported anymore. Please fix your analysis chain");
        }
        int min = settings.getAsInt("min", 0);
        int max = settings.getAsInt("max", Integer.MAX_VALUE);
        return new AbstractTokenFilterFactory(name, settings) {
            @Override
            public TokenStream create(TokenStream input) {
                return new LengthFilter(input, min, max);
            }
        };
    }

    private static TokenFilterFactory patternReplace(String name, Settings settings) {
        String source = settings.get("pattern");
        if (source == null) {
            throw new IllegalArgumentException(
                "pattern is missing for [" + name + "] token filter of type 'pattern_replace'");
        }
        Pattern pattern = Regex.compile(source, settings.get("flags"));
        String replacement = settings.get("replacement", "");
        boolean all = settings.getAsBoolean("all", true);
        return new PatternReplaceFactory(name, settings, pattern, replacement, all);
    }

    /** Usable in normalizers too, like analysis-common's (a pure per-token rewrite). */
    private static final class PatternReplaceFactory extends AbstractTokenFilterFactory
            implements NormalizingTokenFilterFactory {
        private final Pattern pattern;
        private final String replacement;
        private final boolean all;

        PatternReplaceFactory(String name, Settings settings, Pattern pattern, String replacement, boolean all) {
            super(name, settings);
            this.pattern = pattern;
            this.replacement = replacement;
            this.all = all;
        }

        @Override
        public TokenStream create(TokenStream input) {
            return new PatternReplaceFilter(input, pattern, replacement, all);
        }
    }

    private static TokenFilterFactory snowball(String name, Settings settings) {
        String language = Strings.capitalize(settings.get("language", settings.get("name", "English")));
        return new AbstractTokenFilterFactory(name, settings) {
            @Override
            public TokenStream create(TokenStream input) {
                return new SnowballFilter(input, language);
            }
        };
    }
}
