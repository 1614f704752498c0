package newssearch.esnode;

import java.util.Map;

import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.CharArraySet;
import org.apache.lucene.analysis.de.GermanAnalyzer;
import org.apache.lucene.analysis.en.EnglishAnalyzer;
import org.apache.lucene.analysis.ru.RussianAnalyzer;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.index.analysis.AbstractIndexAnalyzerProvider;
import org.elasticsearch.index.analysis.Analysis;
import org.elasticsearch.index.analysis.AnalyzerProvider;
import org.elasticsearch.indices.analysis.AnalysisModule.AnalysisProvider;
import org.elasticsearch.plugins.AnalysisPlugin;
import org.elasticsearch.plugins.Plugin;

/**
 * The language analyzers NewsSearch maps text fields to ({@code german}, {@code english},
 * {@code russian}), registered under the names Elasticsearch's analysis-common module uses.
 *
 * <p>analysis-common is not published on Maven Central for 8.x, so the dev node registers them
 * itself, built the way analysis-common's {@code GermanAnalyzerProvider} (etc.) build them: the
 * Lucene analyzer with the stop words and stem exclusions parsed from the analyzer's settings by
 * the server's own {@link Analysis#parseStopWords} / {@link Analysis#parseStemExclusion}. So an
 * index setting such as {@code {"type": "german", "stopwords": "_none_"}} gives an empty stop set
 * ({@link CharArraySet#EMPTY_SET}), no {@code stopwords} gives Lucene's default set for the
 * language, and {@code _english_}, explicit lists and {@code stopwords_path} work as on a
 * distribution.
 */
public final class LanguageAnalyzersPlugin extends Plugin implements AnalysisPlugin {

    /** Builds the Lucene analyzer from (stop words, stem exclusions). */
    @FunctionalInterface
    private interface Factory {
        Analyzer create(CharArraySet stopWords, CharArraySet stemExclusion);
    }

    @Override
    public Map<String, AnalysisProvider<AnalyzerProvider<? extends Analyzer>>> getAnalyzers() {
        return Map.of(
            "german", provider(GermanAnalyzer.getDefaultStopSet(), GermanAnalyzer::new),
            "english", provider(EnglishAnalyzer.getDefaultStopSet(), EnglishAnalyzer::new),
            "russian", provider(RussianAnalyzer.getDefaultStopSet(), RussianAnalyzer::new)
        );
    }

    private static AnalysisProvider<AnalyzerProvider<? extends Analyzer>> provider(
            CharArraySet defaultStopWords, Factory factory) {
        return (indexSettings, environment, name, settings) ->
            new Configured(name, settings, environment, defaultStopWords, factory);
    }

    /** An index-scoped provider handing out one analyzer instance, like ES's own providers. */
    private static final class Configured extends AbstractIndexAnalyzerProvider<Analyzer> {
        private final Analyzer analyzer;

        Configured(String name, Settings settings, Environment environment, CharArraySet defaultStopWords,
                Factory factory) {
            super(name, settings);
            this.analyzer = factory.create(
                Analysis.parseStopWords(environment, settings, defaultStopWords),
                Analysis.parseStemExclusion(settings, CharArraySet.EMPTY_SET)
            );
        }

        @Override
        public Analyzer get() {
            return analyzer;
        }
    }
}
